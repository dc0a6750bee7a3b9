"""Open data of a closed consultation: anonymised, protected against singling out, and still enough for
`idmx rank` to reproduce the published ranking byte for byte.

The package (one zip, or the same files in a directory with `idmx export consultation`):

============================  ===========================================================================
file                          content
============================  ===========================================================================
``proposals.csv``             published proposals, and merged ones with the proposal they were merged into
``respondents.csv``           protected microdata: sector, region, state and a band of the number of votes
                              of each respondent, k-anonymous on all of them (`idmx.exports.disclosure`)
``cells.csv``                 the weighting cells of the published ranking (sector, state generalised
                              until each cell holds k respondents) and their number of respondents
``statistics.csv``            the votes' sufficient statistics per proposal and cell (pairwise: per
                              cluster, numbered by content, and ordered pair: a cluster is one
                              respondent or a pseudo-cluster of at least k of them)
``targets.csv``               the weighting targets of the published ranking
``ranking.csv``               the published ranking: what ``idmx rank --cells --statistics`` computes
                              from the three files above, byte for byte
``runs.csv``                  every final ranking run (computed after closing) with its parameters
``run_targets.csv``           the targets of each run
``run_results.csv``           the results of each run
``datapackage.json``          a Frictionless tabular data package: types, keys, licence, the command that
                              reproduces the ranking, k and the residual disclosure risk
============================  ===========================================================================

Why statistics and not vote rows: a respondent's vote rows carry their number of votes and which
proposals they saw, which single out almost everyone (each respondent's set of proposals is their
own), so no vote file tied to respondents can be k-anonymous. The ranking depends on the votes only
through the statistics per weighting cell; cells whose categories do not enter the weights (the
state, unless it has targets) are merged by generalising them, so the published ranking equals the
stored run's whenever the weights depend only on the sector (`Published.matches_run`, stated in the
descriptor). Pairwise intervals are clustered by respondent, so its statistics stay per cluster and a
cluster's number of comparisons counts as a quasi-identifier: respondents whose number would single
them out (after the state is generalised) are pooled into pseudo-clusters of at least k respondents
of their cell. The strengths and scores do not depend on the clustering; the intervals of the
package's ranking are those of its clusters, and the descriptor says how far they moved from the
stored run's (`clustering_change`).

Privacy by construction: every file is written from an explicit allow-list of columns (`COLUMNS`).
Respondents never appear with their database id or token hash; their organisation and intended-use
answers, cookie-token hashes, the time of every vote, hidden and pending proposals, moderation notes,
reports and staff accounts are never read. Only closed consultations are exported.
"""

from __future__ import annotations

import dataclasses
import io
import json
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from idmx import clock, votemodes
from idmx.consultations import rules
from idmx.db import Database
from idmx.db import models as m
from idmx.errors import Busy, Conflict, NotFound
from idmx.exports import disclosure
from idmx.formats.safety import csv_lines
from idmx.formats.xlsx import Sheet, xlsx_chunks
from idmx.i18n import gettext as _
from idmx.institutions import services as institutions
from idmx.ranking import files, pipeline, queries
from idmx.ranking import published as published_inputs
from idmx.ranking import services as ranking_runs
from idmx.statistics import NOT_STATED, NothingToRank

__all__ = [
    "COLUMNS",
    "DOWNLOADABLE",
    "PACKAGE_FILES",
    "ExportInfo",
    "file_chunks",
    "package_info",
    "prepare",
    "proposals_xlsx_chunks",
    "published",
    "write_directory",
    "zip_chunks",
]

PROPOSAL_COLUMNS = ("proposal_id", "title", "description", "intended_use", "institution", "topic", "status",
                    "merged_into_id", "from_fixed_list")
RESPONDENT_COLUMNS = ("respondent_id", "segment", "segment_name", "region", "region_name", "state", "state_name",
                      "votes")
CELL_COLUMNS = ("cell", *queries.VARIABLES, "respondents")
# statistics.csv of each built-in mode.
STATISTICS_COLUMNS = {mode.code: published_inputs.statistics_columns(mode.code) for mode in votemodes.all_modes()}
TARGET_COLUMNS = ("variable", "category", "target")
RUN_COLUMNS = ("run_id", "method", "computed_on", "fingerprint", "code_version", "targets_source", "cap", "ridge",
               "confidence", "rank_by", "respondents", "vote_rows", "proposals", "n_eff")
RUN_TARGET_COLUMNS = ("run_id", "variable", "category", "target")
RUN_RESULT_COLUMNS = ("run_id", "rank", "proposal_id", "score", "ci_low", "ci_high", "n_eff", "n_votes", "theta")
RANKING_COLUMNS = files.RESULT_COLUMNS  # + ("theta",) for pairwise, as `idmx rank` writes

COLUMNS: dict[str, tuple[str, ...]] = {
    "proposals.csv": PROPOSAL_COLUMNS,
    "respondents.csv": RESPONDENT_COLUMNS,
    "cells.csv": CELL_COLUMNS,
    "targets.csv": TARGET_COLUMNS,
    "ranking.csv": RANKING_COLUMNS,
    "runs.csv": RUN_COLUMNS,
    "run_targets.csv": RUN_TARGET_COLUMNS,
    "run_results.csv": RUN_RESULT_COLUMNS,
}
"""The allow-list: the only columns each file may have (statistics.csv: `STATISTICS_COLUMNS` of its mode)."""

PACKAGE_FILES = ("proposals.csv", "respondents.csv", "cells.csv", "statistics.csv", "targets.csv", "ranking.csv",
                 "runs.csv", "run_targets.csv", "run_results.csv", "datapackage.json")
# Files that make sense on their own (the respondents and the descriptor only inside the package).
DOWNLOADABLE = ("proposals.csv", "proposals.xlsx", "cells.csv", "statistics.csv", "targets.csv", "ranking.csv",
                "runs.csv", "run_targets.csv", "run_results.csv")
# Files that need the protected inputs (`published`), which read every vote row once.
_NEEDS_PUBLISHED = {"respondents.csv", "cells.csv", "statistics.csv", "ranking.csv", "datapackage.json"}
BATCH = 50_000
# Protecting the respondents reads every vote row and re-ranks (a national pairwise consultation: seconds
# and most of a gigabyte). One build at a time per process bounds what a crowd of downloads can take;
# the others wait up to BUILD_WAIT_S, then get 503 with Retry-After. The ranking of the protected inputs
# is kept by their fingerprint (it is a function of them), so repeated downloads do not fit it again.
_BUILDS = threading.BoundedSemaphore(1)
BUILD_WAIT_S = 10.0
_RANKINGS: OrderedDict[tuple[str, str], list[dict[str, Any]]] = OrderedDict()
_RANKINGS_SIZE = 8
_RANKINGS_LOCK = threading.Lock()
LICENSE = {"name": "CC-BY-4.0", "path": "https://creativecommons.org/licenses/by/4.0/",
           "title": "Creative Commons Attribution 4.0"}


@dataclass
class ExportInfo:
    """What one export covers, read before streaming (cheap: no votes)."""

    consultation_id: int
    slug: str
    title_es: str
    title_en: str
    method: str
    closes_on: str
    run_ids: list[int] = field(default_factory=list)
    published_run_id: int | None = None
    k: int = 5  # disclosure control: every published class holds at least k respondents (IDMX_DISCLOSURE_K)

    @property
    def kind(self) -> str:
        """The sufficient statistics of the consultation's vote mode (what its vote rows look like)."""
        return votemodes.get(self.method).statistics

    @property
    def vote_columns(self) -> tuple[str, str, str]:
        return votemodes.get(self.method).file_columns

    @property
    def zip_name(self) -> str:
        return f"idmx-{self.slug}-datos.zip"


# --- which consultation ------------------------------------------------------------------------------


def package_info(db: Database, slug: str, now: datetime | None = None, *, include_drafts: bool = False,
                 k: int = 5) -> ExportInfo:
    """The export of consultation ``slug``; NotFound, or Conflict unless it is closed.

    Drafts are not public: they are "not found" unless ``include_drafts`` (the command line) asks to
    name them in the error.
    """
    now = now or clock.now()
    with db.read() as s:
        c = s.scalar(select(m.Consultation).where(m.Consultation.slug == slug))
        if c is None or (c.status != m.ConsultationStatus.published and not include_drafts):
            raise NotFound(_("There is no consultation at this address."))
        phase = rules.phase(c, now)
        if phase != "closed":
            messages = {
                "draft": _("This consultation is a draft: only closed consultations publish their data."),
                "upcoming": _("This consultation has not opened yet: its data is published when it closes."),
                "open": _("This consultation is still open: its data is published when it closes."),
            }
            raise Conflict(messages[phase])
        method = str(c.voting_method)
        run_rows = s.execute(
            select(m.RankingRun.id).where(
                m.RankingRun.consultation_id == c.id, m.RankingRun.method == c.voting_method,
                m.RankingRun.created_at >= c.closes_at, m.RankingRun.excludes_flagged.is_(False),
            ).order_by(m.RankingRun.created_at, m.RankingRun.id)
        ).all()
        run_ids = [r[0] for r in run_rows]
        return ExportInfo(c.id, c.slug, c.title_es, c.title_en, method, c.closes_at.date().isoformat(),
                          run_ids, run_ids[-1] if run_ids else None, k)


# --- the files ---------------------------------------------------------------------------------------------


def _proposal_rows(s: Session, info: ExportInfo) -> Iterator[tuple]:
    P = m.Proposal
    stmt = (
        select(P.id, P.title, P.description, P.intended_use, m.Institution.acronym, m.Topic.code, P.status,
               P.merged_into_id, P.from_fixed_list)
        .outerjoin(m.Institution, m.Institution.id == P.institution_id)
        .outerjoin(m.Topic, m.Topic.id == P.topic_id)
        .where(P.consultation_id == info.consultation_id,
               P.status.in_([m.ProposalStatus.published, m.ProposalStatus.merged]))
        .order_by(P.id)
        .execution_options(yield_per=1000)
    )
    for pid, title, description, use, acronym, topic, status, merged, fixed in s.execute(stmt):
        yield (pid, title, description, use, acronym or "", topic or "", status.value, merged, int(bool(fixed)))


def _proposals(s: Session, info: ExportInfo) -> Iterator[str]:
    yield from csv_lines(PROPOSAL_COLUMNS, ((*r[:7], "" if r[7] is None else r[7], r[8]) for r in _proposal_rows(s, info)))


def proposals_xlsx_chunks(db: Database, info: ExportInfo) -> Iterator[bytes]:
    """proposals.xlsx: the proposals of proposals.csv as a spreadsheet (typed, frozen header, safe text)."""
    with db.read() as s:
        sheet = Sheet(_("Proposals")[:31], PROPOSAL_COLUMNS, _proposal_rows(s, info), widths=(12, 60, 80, 60, 14, 24, 12, 14, 14))
        yield from xlsx_chunks([sheet])


# --- the protected files: respondents, weighting cells and their statistics -------------------------------


@dataclass
class Published:
    """What the package publishes about respondents, computed once per package (`published`)."""

    inputs: pipeline.CellInputs  # the ranking's inputs over the protected cells
    fingerprint: str | None  # of those inputs: what `idmx rank --cells --statistics` prints (None: no votes)
    respondents: pd.DataFrame  # respondents.csv rows (protected microdata)
    cells_protection: disclosure.Protection
    respondents_protection: disclosure.Protection
    ranking: list[dict[str, Any]] | None  # the published ranking (None before the first final run)
    matches_run: bool | None  # the ranking equals the stored run's results, byte for byte
    confidence: float = 0.95  # of the run's intervals, and so of the ranks'
    clustering: dict[str, Any] | None = None  # pairwise: the published clusters and how the ranking differs


def run_params(info: ExportInfo, run: m.RankingRun | None) -> pipeline.RunParams:
    """The parameters of the published run (its targets included), or the defaults before it exists."""
    if run is None:
        return pipeline.RunParams(method=info.method)
    p = run.params
    targets = tuple((str(v), str(c), float(t)) for v, c, t in p.get("targets", [])) or None
    return pipeline.RunParams(method=info.method, targets=targets, cap=p.get("cap"), ridge=p.get("ridge", 0.1),
                              confidence=p.get("confidence", 0.95), rank_by=p.get("rank_by", "lower"))


def _cell_steps() -> list[disclosure.Step]:
    return [disclosure.region_step("state"), disclosure.suppress("state")]


def _cluster_steps() -> list[disclosure.Step]:
    """Pairwise: the state as for the cells, then the number of comparisons of the respondents still in
    small classes is withheld by pooling them into pseudo-clusters (`disclosure.pseudo_clusters`)."""
    return [*_cell_steps(), disclosure.suppress("votes")]


def _respondent_steps(counts: pd.Series) -> list[disclosure.Step]:
    return [disclosure.region_step("state"), disclosure.band_step("votes", counts, 1),
            disclosure.other_step("segment"), disclosure.suppress("state"), disclosure.suppress("votes"),
            disclosure.suppress("segment")]


def published(db: Database, info: ExportInfo, run: m.RankingRun | None) -> Published:
    """Protect the respondents (k = ``info.k``) and recompute the ranking from what is published.

    The weighting cells keep the categories the weights depend on (the variables with targets: the
    segment, and the state only if it has targets) and generalise the others until every cell holds
    ``k`` respondents; per-proposal statistics are summed over the merged cells. Approval and rating
    read the tallies and one count of vote rows per respondent (never the rows themselves). Pairwise
    statistics stay per cluster (the intervals are clustered by respondent), so there each
    respondent's number of comparisons is a quasi-identifier too; it cannot be coarsened in a
    respondent's own rows, so the respondents it would single out are pooled into pseudo-clusters of
    at least ``k`` (`disclosure.pseudo_clusters`), which moves the package's intervals a little.
    """
    params = run_params(info, run)
    try:
        return _protected(db, info, run, params)
    except NothingToRank:  # closed without a vote on a published proposal: the files say so, empty
        return _nothing_published(info)


def _nothing_published(info: ExportInfo) -> Published:
    variables = list(queries.VARIABLES)
    kind_columns = (("respondent_id", "winner_id", "loser_id", "cell", "wins") if info.kind == "pairwise"
                    else ("proposal_id", "cell", *pipeline.VALUES[info.kind]))
    cells = pd.DataFrame({**{v: pd.Series(dtype=object) for v in variables}, "respondents": pd.Series(dtype=np.int64)})
    stats = pd.DataFrame({c: pd.Series(dtype=np.int64) for c in kind_columns})
    inputs = pipeline.CellInputs(info.method, variables, cells, stats, None)

    def nobody(columns: list[str]) -> disclosure.Protection:
        return disclosure.Protection(pd.DataFrame(columns=columns), info.k, tuple(columns), 0.0, 0.0, 0, 0,
                                     np.zeros(0, dtype=bool))

    respondents = pd.DataFrame(columns=["respondent_id", "segment", "region", "state", "votes"])
    return Published(inputs, None, respondents, nobody([*variables, *(["votes"] if info.kind == "pairwise" else [])]),
                     nobody(["segment", "state", "votes"]), None, None)


def _protected(db: Database, info: ExportInfo, run: m.RankingRun | None, params: pipeline.RunParams) -> Published:
    # The inputs are protected in a function of their own, so that the vote rows and the unprotected
    # inputs are freed before the ranking is fitted (a national pairwise package: 1.06 GiB at peak else).
    build = _pairwise_protected if info.kind == "pairwise" else _statistics_protected
    protected, fingerprint, cells_protection, people, clustering = build(db, info, params)
    respondents, respondents_protection = protected_respondents(people, info.k)
    ranking = matches = None
    if run is not None:
        ranking = _published_ranking(protected, fingerprint, params)
        # The same rows give the same file (rank intervals included: they derive from the rows).
        matches = ranking == run.results
        if clustering is not None:
            clustering |= clustering_change(ranking, run.results)
    return Published(protected, fingerprint, respondents, cells_protection, respondents_protection, ranking, matches,
                     params.confidence, clustering)


_Protected = tuple[pipeline.CellInputs, str, disclosure.Protection, pd.DataFrame, "dict[str, Any] | None"]


def _pairwise_protected(db: Database, info: ExportInfo, params: pipeline.RunParams) -> _Protected:
    read = ranking_runs.consultation_inputs(db, info.consultation_id, params)
    inputs = read.inputs
    variables, fixed = _weighting(inputs)
    position = pipeline.vote_respondents(read.rows, read.respondent_ids)
    counts = np.bincount(position, minlength=len(read.respondent_ids))
    categories = {v: inputs.cells[v].to_numpy(dtype=object)[read.respondent_cells] for v in variables}
    clusters = protected_clusters(categories, counts, variables, fixed, info.k)
    rows = np.column_stack([clusters.cluster[position], read.rows[:, 1], read.rows[:, 2]])
    del read, position
    protected, fingerprint, _number = published_inputs.cluster_inputs(
        info.method, variables, clusters.cells, clusters.cluster_cell, rows, inputs.targets)
    people = pd.DataFrame({**categories, "votes": counts}).value_counts().rename("respondents").reset_index()
    return protected, fingerprint, clusters.protection, people, clusters.figures()


def _statistics_protected(db: Database, info: ExportInfo, params: pipeline.RunParams) -> _Protected:
    inputs = ranking_runs.consultation_statistics(db, info.consultation_id, params)
    variables, fixed = _weighting(inputs)
    cells_protection = disclosure.protect(inputs.cells[variables], variables, info.k, _cell_steps(), fixed=fixed,
                                          weight=inputs.cells["respondents"].to_numpy(), may_suppress=False)
    labels = cells_protection.frame[variables].assign(respondents=inputs.cells["respondents"].to_numpy())
    cells = pipeline.cells_frame(labels.groupby(variables, sort=False)["respondents"].sum().reset_index(),
                                 variables, count="respondents")
    new_cell = pipeline._cell_codes(cells, labels, variables)
    stats = inputs.stats.assign(cell=new_cell[inputs.stats["cell"].to_numpy()])
    value_columns = pipeline.VALUES[info.kind]
    stats = stats.groupby(["proposal_id", "cell"], sort=True)[value_columns].sum().reset_index()
    protected, fingerprint = published_inputs.statistics_inputs(info.method, variables, cells, stats, inputs.targets)
    people = _respondent_votes(db, info)
    if int(people["respondents"].sum()) != int(inputs.cells["respondents"].sum()):
        raise Conflict(_("The consultation's data changed while it was being exported; please try again."))
    return protected, fingerprint, cells_protection, people, None


@dataclass
class Clusters:
    """Pairwise: the published cells and clusters of the respondents (positions 0..N-1)."""

    protection: disclosure.Protection  # on the weighting variables and the number of comparisons
    cells: pd.DataFrame  # the published weighting cells (`pipeline.cells_frame`)
    respondent_cell: np.ndarray  # each respondent's published cell
    cluster: np.ndarray  # each respondent's cluster, 0..G-1
    cluster_cell: np.ndarray  # each cluster's cell
    pooled: np.ndarray  # the respondents whose number of comparisons is withheld (in pseudo-clusters)

    def figures(self) -> dict[str, Any]:
        return {"clusters": len(self.cluster_cell), "pooled_respondents": int(self.pooled.sum()),
                "pseudo_clusters": len(self.cluster_cell) - int((~self.pooled).sum())}


def protected_clusters(categories: dict[str, np.ndarray], counts: np.ndarray, variables: list[str],
                       fixed: list[str], k: int) -> Clusters:
    """Each respondent's published cell and cluster, from their categories and number of comparisons:
    the state generalised until the classes on (cell, number of comparisons) hold ``k``, then the
    respondents still in small classes pooled per cell into pseudo-clusters of at least ``k``."""
    frame = pd.DataFrame({**categories, "votes": np.asarray(counts).astype(str)})
    protection = disclosure.protect(frame, [*variables, "votes"], k, _cluster_steps(), fixed=fixed,
                                    may_suppress=False)
    labels = protection.frame[variables]
    cells = pipeline.cells_frame(labels, variables)
    respondent_cell = pipeline._cell_codes(cells, labels, variables)
    pooled = protection.frame["votes"].to_numpy() == disclosure.SUPPRESSED
    cluster = disclosure.pseudo_clusters(pooled, respondent_cell, k)
    cluster_cell = np.zeros(int(cluster.max()) + 1 if len(cluster) else 0, dtype=np.int64)
    cluster_cell[cluster] = respondent_cell
    return Clusters(protection, cells, respondent_cell, cluster, cluster_cell, pooled)


def _published_ranking(inputs: pipeline.CellInputs, fingerprint: str, params: pipeline.RunParams) -> list[dict[str, Any]]:
    """The ranking of the protected inputs, computed once per process for each (fingerprint, parameters)."""
    key = (fingerprint, repr(params))
    with _RANKINGS_LOCK:
        found = _RANKINGS.get(key)
        if found is not None:
            _RANKINGS.move_to_end(key)
            return found
    rows = pipeline.compute_ranking(inputs, params, segments=False).rows
    with _RANKINGS_LOCK:
        _RANKINGS[key] = rows
        while len(_RANKINGS) > _RANKINGS_SIZE:
            _RANKINGS.popitem(last=False)
    return rows


def prepare(db: Database, info: ExportInfo, names: tuple[str, ...] = ()) -> Published | None:
    """The protected inputs that ``names`` (default: the whole package) need, built before a download
    starts streaming, so that a refusal (busy, or data that changed under it) is a proper answer."""
    if not _NEEDS_PUBLISHED & set(names or PACKAGE_FILES):
        return None
    if not _BUILDS.acquire(timeout=BUILD_WAIT_S):
        raise Busy(_("Many people are downloading this consultation's data right now. Nothing is lost: "
                     "please try again in a minute."), retry_after=30)
    try:
        return published(db, info, published_run(db, info))
    finally:
        _BUILDS.release()


def clustering_change(published: list[dict[str, Any]], stored: list[dict[str, Any]]) -> dict[str, Any]:
    """How the package's pairwise ranking (intervals clustered by published cluster) differs from the
    stored run's (clustered by respondent): the strengths are the same, the intervals may move a little,
    and with them the ranks when ranking by the lower bound."""
    mine = {r["proposal_id"]: r for r in published}
    theirs = {r["proposal_id"]: r for r in stored}
    common = mine.keys() & theirs.keys()
    moved = [abs(mine[i][c] - theirs[i][c]) for i in common for c in ("ci_low", "ci_high")
             if mine[i].get(c) is not None and theirs[i].get(c) is not None]
    return {"same_proposals_and_scores": mine.keys() == theirs.keys()
            and all(mine[i]["score"] == theirs[i]["score"] for i in common),
            "largest_interval_change": round(max(moved, default=0.0), 6),
            "ranks_changed": sum(mine[i]["rank"] != theirs[i]["rank"] for i in common)}


def _weighting(inputs: pipeline.CellInputs) -> tuple[list[str], list[str]]:
    """The weighting variables, and those of them the weights depend on (they have targets): kept exact."""
    variables = list(inputs.variables)
    targeted = set(inputs.targets["variable"]) if inputs.targets is not None else set()
    return variables, [v for v in variables if v in targeted]


def _respondent_votes(db: Database, info: ExportInfo) -> pd.DataFrame:
    """``segment, state, votes, respondents``: how many of the ranking's respondents have each
    sector, state and number of vote rows, counted by the database (a run's rows, never fetched)."""
    with db.read() as s:
        queries.consistent_snapshot(s)
        per_respondent = (f"SELECT r.id AS id, r.segment_id AS segment_id, r.state_id AS state_id, count(*) AS n "
                          f"{queries._counted_rows(s, info.kind)} GROUP BY r.id, r.segment_id, r.state_id")
        found = s.execute(text(f"SELECT segment_id, state_id, n, count(*) FROM ({per_respondent}) AS t "
                               "GROUP BY segment_id, state_id, n"), {"c": info.consultation_id}).all()
        labels = queries.category_labels(s)
    return pd.DataFrame({
        "segment": [labels["segment"][a] for a, _b, _n, _c in found],
        "state": [labels["state"][b] for _a, b, _n, _c in found],
        "votes": np.array([n for *_ab, n, _c in found], dtype=np.int64),
        "respondents": np.array([c for *_abn, c in found], dtype=np.int64),
    })


def protected_respondents(people: pd.DataFrame, k: int) -> tuple[pd.DataFrame, disclosure.Protection]:
    """respondents.csv from ``segment, state, votes, respondents`` (respondents per combination):
    sector, region, state and a band of the number of votes, k-anonymous on all of them; one row per
    respondent, sorted by those values and numbered 1..N (no order of arrival, no link to the
    statistics)."""
    weight = people["respondents"].to_numpy(dtype=np.int64)
    exact = people["votes"].astype(np.int64)
    frame = pd.DataFrame({"segment": people["segment"].to_numpy(dtype=object),
                          "state": people["state"].to_numpy(dtype=object),
                          "votes": disclosure.votes_band(exact.to_numpy(), 0)})
    protection = disclosure.protect(frame, ["segment", "state", "votes"], k, _respondent_steps(exact), weight=weight)
    # "Before" is what the vote rows used to give away: the exact number of votes, not its band.
    exact_risk = disclosure.risk(frame.assign(votes=exact.astype(str).to_numpy()), ["segment", "state", "votes"], k,
                                 weight)
    protection = dataclasses.replace(protection, risk_before=exact_risk)
    kept = protection.frame[protection.kept]
    repeat = weight[protection.kept]
    state = pd.Series(np.repeat(kept["state"].astype(str).to_numpy(), repeat))
    is_state = state.str.fullmatch(r"\d\d")
    region = state.where(~is_state, state.map(disclosure.region_of))
    out = pd.DataFrame({"segment": np.repeat(kept["segment"].to_numpy(), repeat), "region": region.to_numpy(),
                        "state": state.where(is_state, "").to_numpy(), "votes": np.repeat(kept["votes"].to_numpy(), repeat)})
    out = out.sort_values(["segment", "region", "state", "votes"], ignore_index=True, kind="stable")
    out.insert(0, "respondent_id", np.arange(1, len(out) + 1))
    return out, protection


def _respondents(s: Session, pub: Published) -> Iterator[str]:
    """respondents.csv: every row of a class is the same but for its number, so each class's cells
    are written (and neutralised) once and repeated."""
    names = _category_names(s)
    frame = pub.respondents
    lines = csv_lines(RESPONDENT_COLUMNS, [])
    yield next(lines)
    keys = ["segment", "region", "state", "votes"]
    starts = np.flatnonzero(~frame.duplicated(keys).to_numpy()) if len(frame) else np.zeros(0, dtype=np.int64)
    ends = np.append(starts[1:], len(frame))
    for start, end in zip(starts.tolist(), ends.tolist()):
        r = frame.iloc[start]
        cells = ("", r.segment, names["segment"].get(r.segment, ""), r.region, names["region"].get(r.region, ""),
                 r.state, names["state"].get(r.state, ""), r.votes)
        tail = list(csv_lines(RESPONDENT_COLUMNS, [cells], bom=False))[1]  # "",... -> ",segment,..."
        yield "".join(f"{i}{tail}" for i in range(start + 1, end + 1))


def _category_names(s: Session) -> dict[str, dict[str, str]]:
    """Spanish names beside the codes of sectors, states and regions (and the codes SDC adds)."""
    common = {NOT_STATED: "No declarado", disclosure.SUPPRESSED: "Suprimido (control de divulgación)"}
    segments = {code: name for code, name in s.execute(select(m.Segment.code, m.Segment.name_es))}
    states = {code: name for code, name in s.execute(select(m.State.inegi_code, m.State.name))}
    return {"segment": {**common, "other": "Otros sectores (agrupados)", **segments},
            "state": {**common, **states}, "region": {**common, **disclosure.REGION_NAMES}}


def _cells(pub: Published) -> Iterator[str]:
    variables = pub.inputs.variables
    yield from csv_lines(("cell", *variables, "respondents"), published_inputs.cell_lines(pub.inputs.cells, variables))


def _statistics(pub: Published) -> Iterator[str]:
    """statistics.csv: numbers only (no cell needs neutralising), written in blocks."""
    columns = published_inputs.statistics_columns(pub.inputs.method)
    yield "\ufeff" + ",".join(columns) + "\r\n"
    table = published_inputs.statistics_lines(pub.inputs)
    for lo in range(0, len(table), BATCH):  # pandas' C writer: a third faster than joining in Python
        yield pd.DataFrame(table[lo:lo + BATCH]).to_csv(header=False, index=False, lineterminator="\r\n")


def published_run(db: Database, info: ExportInfo) -> m.RankingRun | None:
    """The run whose ranking the package publishes: the first computed after closing."""
    if info.published_run_id is None:
        return None
    with db.read() as s:
        return s.get(m.RankingRun, info.published_run_id)


def _runs(s: Session, info: ExportInfo) -> list[m.RankingRun]:
    if not info.run_ids:
        return []
    return list(s.scalars(select(m.RankingRun).where(m.RankingRun.id.in_(info.run_ids)).order_by(m.RankingRun.id)))


def _published(runs: list[m.RankingRun], info: ExportInfo) -> m.RankingRun | None:
    return next((r for r in runs if r.id == info.published_run_id), None)


def _targets(run: m.RankingRun | None) -> Iterator[str]:
    rows = [(v, c, repr(float(t))) for v, c, t in (run.params.get("targets", []) if run else [])]
    yield from csv_lines(TARGET_COLUMNS, sorted(rows))


def _ranking(pub: Published, method: str) -> Iterator[str]:
    if pub.ranking is None:
        columns = list(RANKING_COLUMNS) + (["theta"] if votemodes.get(method).statistics == "pairwise" else [])
        yield files.csv_line([*columns, *files.RANK_INTERVAL_COLUMNS])
        return
    yield files.render_ranking(pub.ranking, pub.confidence)


def _run_rows(runs: list[m.RankingRun]) -> Iterator[tuple]:
    for r in runs:
        p, sm = r.params, r.summary
        yield (r.id, str(r.method), r.created_at.date().isoformat(), r.fingerprint, r.code_version,
               p.get("targets_source", ""), _blank(p.get("cap")), p.get("ridge"), p.get("confidence"),
               p.get("rank_by"), sm.get("respondents"), sm.get("vote_rows"), sm.get("proposals"), sm.get("n_eff"))


def _blank(x: Any) -> Any:
    return "" if x is None else x


def _run_targets(runs: list[m.RankingRun]) -> Iterator[tuple]:
    for r in runs:
        for v, c, t in r.params.get("targets", []):
            yield (r.id, v, c, repr(float(t)))


def _run_results(runs: list[m.RankingRun]) -> Iterator[tuple]:
    for r in runs:
        for row in r.results:
            yield (r.id, row["rank"], row["proposal_id"], *(_blank(row.get(k)) for k in RUN_RESULT_COLUMNS[3:]))


def reproduce_command(info: ExportInfo, run: m.RankingRun | None) -> str:
    """The `idmx rank` command that reproduces ``run`` from the package's files."""
    args = ["idmx rank --cells cells.csv --statistics statistics.csv", f"--mode {info.method}",
            "--targets targets.csv"]
    if run is not None:
        p = run.params
        if p.get("cap") is not None:
            args.append(f"--cap {p['cap']!r}")
        # Runs before the estimated prior stored their fixed ridge (0.1 unless said); newer ones store None.
        ridge = p.get("ridge", 0.1)
        if ridge is not None:
            args.append(f"--ridge {ridge!r}")
        args += [f"--confidence {p.get('confidence', 0.95)!r}", f"--rank-by {p.get('rank_by', 'lower')}"]
    args.append("--out my-ranking.csv")
    return " ".join(args)


_TYPES = {  # Frictionless field types of every published column (anything else is a string)
    "proposal_id": "integer", "merged_into_id": "integer", "from_fixed_list": "integer", "respondent_id": "integer",
    "cluster_id": "integer",
    "cell": "integer", "respondents": "integer", "exposures": "integer", "supporters": "integer", "n": "integer",
    "sum": "integer", "sumsq": "integer", "winner_id": "integer", "loser_id": "integer", "wins": "integer",
    "target": "number", "rank": "integer", "score": "number", "ci_low": "number", "ci_high": "number",
    "n_eff": "number", "n_votes": "integer", "theta": "number", "run_id": "integer", "computed_on": "date",
    "cap": "number", "ridge": "number", "confidence": "number", "vote_rows": "integer", "proposals": "integer",
    "rank_low": "integer", "rank_high": "integer",
}
_PROPOSALS = {"fields": ["proposal_id"], "reference": {"resource": "proposals", "fields": ["proposal_id"]}}


def _keys(name: str, kind: str) -> dict[str, Any]:
    """Primary and foreign keys of each resource (Frictionless table schema)."""
    proposal = lambda field: {**_PROPOSALS, "fields": [field]}  # noqa: E731
    cell = {"fields": ["cell"], "reference": {"resource": "cells", "fields": ["cell"]}}
    run = {"fields": ["run_id"], "reference": {"resource": "runs", "fields": ["run_id"]}}
    if name == "statistics.csv":
        if kind == "pairwise":
            return {"primaryKey": ["cluster_id", "winner_id", "loser_id"],
                    "foreignKeys": [cell, proposal("winner_id"), proposal("loser_id")]}
        return {"primaryKey": ["proposal_id", "cell"], "foreignKeys": [_PROPOSALS, cell]}
    return {
        "proposals.csv": {"primaryKey": ["proposal_id"], "foreignKeys": [
            {"fields": ["merged_into_id"], "reference": {"resource": "", "fields": ["proposal_id"]}}]},
        "respondents.csv": {"primaryKey": ["respondent_id"]},
        "cells.csv": {"primaryKey": ["cell"]},
        "targets.csv": {"primaryKey": ["variable", "category"]},
        "ranking.csv": {"primaryKey": ["proposal_id"], "foreignKeys": [_PROPOSALS]},
        "runs.csv": {"primaryKey": ["run_id"]},
        "run_targets.csv": {"primaryKey": ["run_id", "variable", "category"], "foreignKeys": [run]},
        "run_results.csv": {"primaryKey": ["run_id", "proposal_id"], "foreignKeys": [run, _PROPOSALS]},
    }[name]


def _resource(name: str, columns: tuple[str, ...], description: str, kind: str) -> dict[str, Any]:
    return {
        "name": name.removesuffix(".csv"), "path": name, "profile": "tabular-data-resource", "format": "csv",
        "mediatype": "text/csv", "encoding": "utf-8-sig", "description": description,
        "schema": {"fields": [{"name": c, "type": _TYPES.get(c, "string")} for c in columns], **_keys(name, kind)},
    }


def disclosure_summary(info: ExportInfo, pub: Published) -> dict[str, Any]:
    """k, the risk before and after protection of each file that describes respondents, and what they hold."""
    def figures(p: disclosure.Protection) -> dict[str, Any]:
        return {"quasi_identifiers": list(p.columns), "risk_before": round(p.risk_before, 6),
                "risk_after": round(p.risk_after, 6), "recoded": p.recoded, "suppressed": p.suppressed}

    cells, people = pub.cells_protection, pub.respondents_protection
    return {
        "k": info.k,
        "residual_risk": round(max(cells.risk_after, people.risk_after), 6),
        "risk_definition": "share of respondents in classes of fewer than k respondents on the published attributes",
        "method": "local recoding: state to region to suppressed, vote counts to wider bands, rare sectors to "
                  "'other', then suppression (pairwise: a withheld number of comparisons means the respondent's "
                  "rows are pooled into a pseudo-cluster of at least k); attributes the ranking's weights depend on "
                  "are kept exact",
        "files": {"respondents.csv": figures(people), "cells.csv and statistics.csv": figures(cells)},
        "ranking_inputs": "per-cell sufficient statistics (cells.csv, statistics.csv); respondents.csv is "
                          "protected microdata that the ranking does not read",
        "ranking_matches_published_run": pub.matches_run,
        **({"pairwise_clusters": {
            **pub.clustering,
            "note": "statistics.csv is per cluster: one respondent, or a pseudo-cluster pooling at least k "
                    "respondents of a cell whose number of comparisons would single them out. Scores do not "
                    "depend on the clustering; the intervals (and ranks by their lower bound) are those of the "
                    "published clusters, so they may differ slightly from the stored run's, by the figures "
                    "given here."}} if pub.clustering is not None else {}),
    }


def _datapackage(info: ExportInfo, run: m.RankingRun | None, pub: Published) -> str:
    """A Frictionless tabular data package: typed fields, keys, licence, sources, how to reproduce the
    ranking, and the disclosure control applied."""
    ranking = [*RANKING_COLUMNS, *(["theta"] if info.kind == "pairwise" else []), *files.RANK_INTERVAL_COLUMNS]
    statistics = STATISTICS_COLUMNS[info.method]
    resources = [
        ("proposals.csv", PROPOSAL_COLUMNS, "Published proposals, and merged ones with the proposal they were merged into."),
        ("respondents.csv", RESPONDENT_COLUMNS, "Protected microdata: one row per respondent of the ranking with sector, "
         "region, state and number of votes (a band), generalised or suppressed until every class holds k respondents."),
        ("cells.csv", CELL_COLUMNS, "Weighting cells of the published ranking (sector and generalised state) with their "
         "number of respondents; every cell holds k respondents unless its sector alone is smaller."),
        ("statistics.csv", statistics, "Sufficient statistics of the votes per proposal and weighting cell (pairwise: "
         "per cluster, numbered by content, and ordered pair; a cluster is one respondent or a pseudo-cluster of at "
         "least k respondents), from which idmx rank reproduces ranking.csv."),
        ("targets.csv", TARGET_COLUMNS, "Weighting targets of the published ranking."),
        ("ranking.csv", tuple(ranking), "The published ranking, as idmx rank writes it from cells.csv, statistics.csv "
         "and targets.csv."),
        ("runs.csv", RUN_COLUMNS, "Ranking runs computed after closing, with their parameters."),
        ("run_targets.csv", RUN_TARGET_COLUMNS, "Weighting targets of each run."),
        ("run_results.csv", RUN_RESULT_COLUMNS, "Results of each run."),
    ]
    descriptor = {
        "profile": "tabular-data-package",
        "name": f"idmx-{info.slug}".lower(),
        "title": info.title_es,
        "title_en": info.title_en,
        "licenses": [LICENSE],
        "sources": [{"title": f"IDMX consultation {info.slug}: proposals and votes of its respondents",
                     "path": f"/c/{info.slug}/"}],
        "closed_on": info.closes_on,
        "voting_method": info.method,
        "published_run": None if run is None else {"run_id": run.id, "fingerprint": run.fingerprint},
        "inputs_fingerprint": pub.fingerprint,
        "reproduce": reproduce_command(info, run),
        "disclosure_control": disclosure_summary(info, pub),
        "resources": [_resource(name, columns, description, info.kind) for name, columns, description in resources],
    }
    return json.dumps(descriptor, ensure_ascii=False, indent=2) + "\n"


def _file(s: Session, info: ExportInfo, name: str, runs: list[m.RankingRun], pub: Published | None) -> Iterator[str]:
    run = _published(runs, info)
    if name == "proposals.csv":
        return _proposals(s, info)
    if name == "respondents.csv":
        return _respondents(s, pub)
    if name == "cells.csv":
        return _cells(pub)
    if name == "statistics.csv":
        return _statistics(pub)
    if name == "targets.csv":
        return _targets(run)
    if name == "ranking.csv":
        return _ranking(pub, info.method)
    if name == "runs.csv":
        return csv_lines(RUN_COLUMNS, _run_rows(runs))
    if name == "run_targets.csv":
        return csv_lines(RUN_TARGET_COLUMNS, _run_targets(runs))
    if name == "run_results.csv":
        return csv_lines(RUN_RESULT_COLUMNS, _run_results(runs))
    if name == "datapackage.json":
        return iter([_datapackage(info, run, pub)])
    raise NotFound(_("There is no such file in this consultation's data."))


def _package(db: Database, info: ExportInfo, names: tuple[str, ...],
             pub: Published | None = None) -> Iterator[tuple[str, Iterator[str]]]:
    """(file name, its chunks) for each of ``names``. The protected inputs (``pub``, from `prepare`, or
    built here) come from one snapshot of the ranking's inputs, the other files from another (a closed
    consultation takes no votes)."""
    if pub is None:
        pub = prepare(db, info, names)
    with db.read() as s:
        queries.consistent_snapshot(s)
        runs = _runs(s, info)
        for name in names:
            yield name, _file(s, info, name, runs, pub)


def file_chunks(db: Database, info: ExportInfo, name: str, pub: Published | None = None) -> Iterator[bytes]:
    """One of the `DOWNLOADABLE` files on its own, as UTF-8 chunks (``pub``: `prepare`'s, if built already)."""
    if name not in DOWNLOADABLE:
        raise NotFound(_("There is no such file in this consultation's data."))
    if name == "proposals.xlsx":
        yield from proposals_xlsx_chunks(db, info)
        return
    for _name, chunks in _package(db, info, (name,), pub):
        for chunk in chunks:
            yield chunk.encode("utf-8")


class _Sink(io.RawIOBase):
    """A write-only, non-seekable file that hands its bytes over as they come (see `zip_chunks`)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:  # type: ignore[override]
        data = bytes(b)
        self._parts.append(data)
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def zip_chunks(db: Database, info: ExportInfo, *, flush_bytes: int = 1 << 20,
               pub: Published | None = None) -> Iterator[bytes]:
    """The whole package as a zip, yielded in pieces of about ``flush_bytes`` while it is written."""
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, chunks in _package(db, info, PACKAGE_FILES, pub):
            entry = zipfile.ZipInfo(name, date_time=_zip_date(info))
            entry.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(entry, mode="w", force_zip64=True) as fh:
                pending = 0
                for chunk in chunks:
                    data = chunk.encode("utf-8")
                    fh.write(data)
                    pending += len(data)
                    if pending >= flush_bytes:
                        pending = 0
                        out = sink.take()
                        if out:
                            yield out
            out = sink.take()
            if out:
                yield out
    out = sink.take()
    if out:
        yield out


def _zip_date(info: ExportInfo) -> tuple[int, int, int, int, int, int]:
    """Entries are dated with the closing day (midnight): no time of the export leaks."""
    y, mo, d = (int(x) for x in info.closes_on.split("-"))
    return (max(y, 1980), mo, d, 0, 0, 0)


def write_directory(db: Database, info: ExportInfo, directory: str | Path) -> list[Path]:
    """Write the package's files into ``directory`` (the command line's export)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, chunks in _package(db, info, PACKAGE_FILES):
        path = directory / name
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.writelines(chunks)
        written.append(path)
    return written


# --- the central team's export page -------------------------------------------------------------------------


@dataclass(frozen=True)
class EditionEntry:
    series: str
    version: int
    title: str
    published_at: datetime
    items: int


@dataclass(frozen=True)
class PlanEntry:
    acronym: str
    name_es: str
    name_en: str
    items: int


@dataclass(frozen=True)
class ConsultationEntry:
    slug: str
    title_es: str
    title_en: str
    closes_at: datetime

    @property
    def kind(self) -> str:
        """The sufficient statistics of the consultation's vote mode (what its vote rows look like)."""
        return votemodes.get(self.method).statistics

    @property
    def vote_columns(self) -> tuple[str, str, str]:
        return votemodes.get(self.method).file_columns

    @property
    def zip_name(self) -> str:
        return f"idmx-{self.slug}-datos.zip"  # the name `consultation_data.ExportInfo.zip_name` serves


@dataclass(frozen=True)
class Catalogue:
    editions: list[EditionEntry]
    plans: list[PlanEntry]
    consultations: list[ConsultationEntry]


def catalogue(db: Database, now: datetime | None = None) -> Catalogue:
    """What there is to download: published editions (newest first), institutions with plan items (by
    acronym), and closed published consultations (most recently closed first)."""
    now = now or clock.now()
    with db.read() as s:
        counts = dict(s.execute(select(m.InfrastructureItem.edition_id, func.count())
                                .group_by(m.InfrastructureItem.edition_id)).all())
        editions = [
            EditionEntry(e.series, e.version, e.title_es, e.published_at, counts.get(e.id, 0))
            for e in s.scalars(select(m.Edition).where(m.Edition.status == m.EditionStatus.published)
                               .order_by(m.Edition.published_at.desc(), m.Edition.series, m.Edition.version.desc()))
        ]
        consultations = [
            ConsultationEntry(c.slug, c.title_es, c.title_en, c.closes_at)
            for c in s.scalars(select(m.Consultation).where(m.Consultation.status == m.ConsultationStatus.published,
                                                            m.Consultation.closes_at <= now)
                               .order_by(m.Consultation.closes_at.desc(), m.Consultation.slug))
        ]
    plans = [PlanEntry(r.institution.acronym, r.institution.name_es, r.institution.name_en, r.total)
             for r in institutions.institutions_overview(db)]
    return Catalogue(editions, plans, consultations)
