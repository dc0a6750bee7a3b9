"""Ranking runs from the database: read a consultation's inputs in one snapshot, compute outside the
transaction (`idmx.ranking.pipeline.compute_ranking`), store an immutable `RankingRun` (and, later, the
intervals of its ranks: `store_rank_intervals`); and write those inputs as files so `idmx rank` on them
reproduces a stored run.

Approval and rating read the sufficient statistics per proposal and weighting cell that the database's
triggers keep (`idmx.ranking.tallies`, read by `queries.tally_rows`), fingerprinted as statistics
(format 3); a run never reads the votes. Pairwise streams its input rows once into an int64 array and
fingerprints them with respondents numbered by content (format 2); the per-respondent pair clusters are
counted from that same stream.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

import idmx
from idmx import clock, votemodes
from idmx.db import Database
from idmx.db import models as m
from idmx.db.upsert import insert_for
from idmx.errors import NotFound
from idmx.i18n import gettext as _
from idmx.i18n import localised
from idmx.ranking import files, queries, rank_intervals
from idmx.ranking.pipeline import (
    CellInputs,
    RunParams,
    canonical_clusters,
    cells_frame,
    cells_of,
    compute_ranking,
    effective_targets,
    kind_of,
    pair_counts,
    tally_stats,
    vote_respondents,
    without_cells,
    without_tallies,
)
from idmx.ranking.pipeline import (
    unmet_targets as pipeline_unmet,
)
from idmx.statistics import NOT_STATED, NothingToRank, RankingError


@dataclass
class _DbInputs:
    inputs: CellInputs
    fingerprint: str
    targets_source: str
    timings: dict[str, float] = field(default_factory=dict)
    # With keep_rows: the respondents (database ids, sorted; their cells; canonical numbers) and the
    # vote rows (database respondent id, second, third column), as `write_inputs` needs them.
    respondent_ids: np.ndarray | None = None
    respondent_cells: np.ndarray | None = None
    respondent_numbers: np.ndarray | None = None
    rows: np.ndarray | None = None
    format2_fingerprint: str | None = None  # with keep_rows: the rows' format 2 fingerprint
    flagged: int = 0  # the ranking's respondents flagged as suspicious
    excluded: int = 0  # ... of them left out (all, with `RunParams.exclude_flagged`)


def _consultation_method(session, consultation_id: int, params: RunParams) -> str:
    method = session.scalar(select(m.Consultation.voting_method).where(m.Consultation.id == consultation_id))
    if method is None:
        raise RankingError(f"there is no consultation with id {consultation_id}")
    method = str(method)
    if params.method is not None and params.method != method:
        raise RankingError(f"the consultation votes by {method}; it cannot be ranked as {params.method}")
    return method


def _read_db_inputs(db: Database, consultation_id: int, params: RunParams, keep_rows: bool = False) -> _DbInputs:
    """Cells, statistics and fingerprint from one snapshot.

    Approval and rating read the tallies the database keeps per proposal and cell
    (`queries.tally_rows`) and fingerprint those statistics (`files.statistics_fingerprint`): the
    cost grows with proposals x cells, not with votes. Pairwise needs per-respondent pair counts for
    its cluster-robust intervals, as many as the comparisons themselves: the canonical rows are
    streamed once (sorted by respondent and pair), fingerprinted and counted from that one stream.
    ``keep_rows`` (for `write_inputs`) also streams the rows of approval and rating.

    With ``params.exclude_flagged`` the flagged respondents (`m.RespondentFlag`) are left out: their
    cells and tallies are subtracted (they are few), their rows dropped. Inputs, fingerprint and
    results are then those of the same consultation without their votes.
    """
    timings: dict[str, float] = {}
    variables = list(queries.VARIABLES)
    rows = ids = cell_of = None
    nothing = "the consultation has no votes on published proposals yet; there is nothing to rank"
    with db.read() as s:
        queries.consistent_snapshot(s)
        method = _consultation_method(s, consultation_id, params)
        kind = kind_of(method)  # what the queries read: the mode's sufficient statistics
        t = time.perf_counter()
        all_cells = queries.respondent_cells(s, consultation_id, kind)
        if len(all_cells) == 0:
            raise NothingToRank(nothing)
        flagged_cells = queries.flagged_cells(s, consultation_id, kind)
        flagged = int(flagged_cells["respondents"].sum())
        excluded = flagged if params.exclude_flagged else 0
        cell_counts = without_cells(all_cells, flagged_cells) if excluded else all_cells
        if len(cell_counts) == 0:
            raise RankingError("every respondent of the consultation is flagged; there is nothing to rank without them")
        cells = cells_frame(cell_counts, variables, count="respondents")
        targets, source = effective_targets(queries.stored_targets(s, consultation_id), cells, params)
        stats = None
        if kind != "pairwise":
            largest = int(all_cells["respondents"].max())
            tally = queries.tally_rows(s, consultation_id, kind, largest)
            if excluded:
                tally = without_tallies(tally, queries.flagged_tallies(s, consultation_id, kind))
            stats = tally_stats(tally, cell_counts, method)
            if len(stats) == 0:
                raise NothingToRank(nothing)
        timings["aggregate"] = time.perf_counter() - t
        if kind == "pairwise" or keep_rows:
            t = time.perf_counter()
            keys = queries.respondent_keys(s, consultation_id, kind)
            if len(keys) != int(all_cells["respondents"].sum()):
                raise RankingError("respondent rows and cell counts disagree (inputs changed during the run?)")
            parts = list(queries.vote_arrays(s, consultation_id, kind))
            rows = np.concatenate(parts) if parts else np.zeros((0, 3), dtype=np.int64)
            del parts
            if excluded:
                left_out = queries.flagged_ids(s, consultation_id)
                keys = keys[~np.isin(keys[:, 0], left_out)]
                rows = rows[~np.isin(rows[:, 0], left_out)]
            ids, cell_of = keys[:, 0].copy(), cells_of(cell_counts, keys[:, 1], keys[:, 2])
            timings["rows"] = time.perf_counter() - t
    t = time.perf_counter()
    number = None
    if rows is not None:
        canon = files.canonical_fingerprint(cells, variables, cell_of, vote_respondents(rows, ids), rows[:, 1],
                                            rows[:, 2], votemodes.get(method).file_columns, targets)
        number = canon.number
    fingerprint = (canon.fingerprint if kind == "pairwise"
                   else files.statistics_fingerprint(cells, variables, stats, method, targets))
    timings["fingerprint"] = time.perf_counter() - t
    if kind == "pairwise":
        t = time.perf_counter()
        stats = canonical_clusters(pair_counts(rows[:, 0], rows[:, 1], rows[:, 2], ids, cell_of), ids, number)
        timings["pair_counts"] = time.perf_counter() - t
    inputs = CellInputs(method, variables, cells, stats.reset_index(drop=True), targets)
    read = _DbInputs(inputs, fingerprint, source, timings, flagged=flagged, excluded=excluded)
    if keep_rows:
        read.respondent_ids, read.respondent_cells, read.respondent_numbers = ids, cell_of, number
        read.rows, read.format2_fingerprint = rows, canon.fingerprint
    return read


def consultation_statistics(db: Database, consultation_id: int, params: RunParams) -> CellInputs:
    """A consultation's ranking inputs (approval and rating: the tallies per proposal and cell, no rows)."""
    return _read_db_inputs(db, consultation_id, params).inputs


def consultation_inputs(db: Database, consultation_id: int, params: RunParams) -> _DbInputs:
    """A consultation's ranking inputs with its respondents (ids, cells) and vote rows, from one
    snapshot: what the public export protects and publishes (`idmx.exports.services`)."""
    return _read_db_inputs(db, consultation_id, params, keep_rows=True)


def run_for_consultation(db: Database, consultation_id: int, params: RunParams | None = None) -> m.RankingRun:
    """Rank a consultation from the database and store the run (see the module docstring)."""
    params = params or RunParams()
    params.check()
    read = _read_db_inputs(db, consultation_id, params)
    t = time.perf_counter()
    result = compute_ranking(read.inputs, params)
    compute_s = time.perf_counter() - t
    stored_params = {
        "method": read.inputs.method,
        "targets": [[v, c, float(x)] for v, c, x in read.inputs.targets.itertuples(index=False)],
        "targets_source": read.targets_source,
        "cap": params.cap,
        "ridge": params.ridge,
        "confidence": params.confidence,
        "rank_by": params.rank_by,
        "exclude_flagged": params.exclude_flagged,
    }
    timings = {**read.timings, "compute": compute_s}
    timings.update({f"compute.{k}": v for k, v in result.summary["timings_s"].items()})
    summary = {**result.summary, "flagged_respondents": read.flagged, "excluded_respondents": read.excluded,
               "timings_s": {k: round(v, 4) for k, v in timings.items()}}
    with db.write() as s:
        run = m.RankingRun(
            consultation_id=consultation_id,
            method=read.inputs.method,
            params=stored_params,
            fingerprint=read.fingerprint,
            code_version=str(idmx.__version__)[:40],
            created_at=clock.now(),
            results=result.rows,
            segment_ranks=result.segment_ranks,
            segment_figures=result.segment_figures,
            summary=summary,
            excludes_flagged=params.exclude_flagged,
        )
        s.add(run)
    return run


def latest_run(db: Database, consultation_id: int, method: str | None = None, *,
               excludes_flagged: bool = False) -> m.RankingRun | None:
    """The consultation's most recent run (of ``method``, if given; of every vote, or without the
    flagged respondents), or None."""
    stmt = select(m.RankingRun).where(m.RankingRun.consultation_id == consultation_id,
                                      m.RankingRun.excludes_flagged == excludes_flagged)
    if method is not None:
        stmt = stmt.where(m.RankingRun.method == str(method))
    stmt = stmt.order_by(m.RankingRun.created_at.desc(), m.RankingRun.id.desc()).limit(1)
    with db.read() as s:
        return s.scalar(stmt)


def rank_intervals_of(s: Session, run: m.RankingRun) -> dict[Any, tuple[int, int]]:
    """``{proposal_id: (low, high)}``: the interval of each rank of ``run``, as the worker stored it, or
    computed now (and kept per process) for a run it has not reached yet; the same numbers either way."""
    confidence = run.params.get("confidence", 0.95)
    stored = s.get(m.RunRankIntervals, run.id)
    if stored is not None and stored.confidence == confidence and len(stored.low) == len(run.results):
        return {row["proposal_id"]: (lo, hi) for row, lo, hi in zip(run.results, stored.low, stored.high)}
    return rank_intervals.for_results(run.results, confidence)


def run_rank_intervals(db: Database, run: m.RankingRun) -> dict[Any, tuple[int, int]]:
    with db.read() as s:
        return rank_intervals_of(s, run)


def store_rank_intervals(db: Database, limit: int = 20) -> list[int]:
    """Compute and store the rank intervals of the newest runs that have none, at most ``limit`` of them
    (older runs are filled in over the following calls): the worker's step after the rankings. Each is
    computed outside any transaction and inserted once (a concurrent worker's row wins)."""
    with db.read() as s:
        missing = s.scalars(select(m.RankingRun.id)
                            .where(~exists().where(m.RunRankIntervals.run_id == m.RankingRun.id))
                            .order_by(m.RankingRun.id.desc()).limit(limit)).all()
    done = []
    for run_id in missing:
        with db.read() as s:
            run = s.get(m.RankingRun, run_id)
            if run is None:
                continue
            results, confidence = run.results, float(run.params.get("confidence", 0.95))
        found = rank_intervals.for_results(results, confidence)
        low = [found[row["proposal_id"]][0] for row in results]
        high = [found[row["proposal_id"]][1] for row in results]
        with db.write() as s:
            s.execute(insert_for(s, m.RunRankIntervals.__table__).on_conflict_do_nothing(),
                      [{"run_id": run_id, "confidence": confidence, "low": low, "high": high}])
        done.append(run_id)
    return done


@dataclass(frozen=True)
class WrittenInputs:
    respondents: Path
    votes: Path
    targets: Path
    method: str
    fingerprint: str  # the run's fingerprint: it does not depend on the respondent ids written


def write_inputs(
    db: Database,
    consultation_id: int,
    directory: str | Path,
    *,
    params: RunParams | None = None,
    respondent_id: Callable[[int], object] | None = None,
) -> WrittenInputs:
    """Write R.csv, V.csv and T.csv of a consultation in the `idmx rank` formats.

    The targets are those a run with ``params`` uses (stored, or the default equal segment shares).
    Respondents are numbered 1..N in the canonical order of `files.canonical_fingerprint` (never
    their database ids); ``respondent_id`` maps those numbers to other labels. Holds the vote rows
    in memory: for tests and small consultations (the public export streams, see
    `idmx.exports.consultation_data`).
    """
    params = params or RunParams()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    read = _read_db_inputs(db, consultation_id, params, keep_rows=True)
    inputs = read.inputs
    variables = inputs.variables
    number = read.respondent_numbers
    label = (lambda n: n) if respondent_id is None else respondent_id
    order = np.argsort(number, kind="stable")
    rframe = pd.DataFrame({"respondent_id": [label(int(n)) for n in number[order]]})
    for var in variables:
        rframe[var] = inputs.cells[var].to_numpy(dtype=object)[read.respondent_cells[order]]
    rows = read.rows
    vote_number = number[np.searchsorted(read.respondent_ids, rows[:, 0])]
    vorder = np.lexsort((rows[:, 2], rows[:, 1], vote_number))
    header = votemodes.get(inputs.method).file_columns
    by_number = {int(n): label(int(n)) for n in number} if respondent_id is not None else None
    vframe = pd.DataFrame({
        header[0]: vote_number[vorder] if by_number is None else [by_number[int(n)] for n in vote_number[vorder]],
        header[1]: rows[vorder, 1], header[2]: rows[vorder, 2],
    })
    paths = {"respondents": directory / "R.csv", "votes": directory / "V.csv", "targets": directory / "T.csv"}
    with open(paths["respondents"], "w", encoding="utf-8", newline="") as fh:
        fh.writelines(files.respondent_lines(rframe, variables))
    with open(paths["votes"], "w", encoding="utf-8", newline="") as fh:
        fh.writelines(files.vote_lines(vframe, header))
    with open(paths["targets"], "w", encoding="utf-8", newline="") as fh:
        fh.writelines(files.target_lines(inputs.targets))
    return WrittenInputs(paths["respondents"], paths["votes"], paths["targets"], inputs.method, read.fingerprint)


# --- rankings computed outside requests ---------------------------------------------------------------------

# An open consultation with live results gets a fresh run this often; a closed one gets its final run once.
LIVE_REFRESH = timedelta(minutes=10)


@dataclass(frozen=True)
class DueRun:
    consultation_id: int
    slug: str
    final: bool  # closed: the run computed after closing, which the published results show


def due_runs(db: Database, now: datetime) -> list[DueRun]:
    """Published consultations whose results need a (new) stored run: closed ones without a run computed
    after closing, and open ones showing live results whose latest run is older than `LIVE_REFRESH`."""
    c, r = m.Consultation, m.RankingRun
    latest = (
        select(r.consultation_id, func.max(r.created_at).label("at"))
        .join(c, (c.id == r.consultation_id) & (c.voting_method == r.method))
        .group_by(r.consultation_id)
        .subquery()
    )
    query = (
        select(c.id, c.slug, c.opens_at, c.closes_at, c.results_visibility, latest.c.at)
        .outerjoin(latest, latest.c.consultation_id == c.id)
        .where(c.status == m.ConsultationStatus.published, c.opens_at <= now)
        .order_by(c.closes_at, c.id)
    )
    due = []
    with db.read() as s:
        for cid, slug, _opens, closes, visibility, last in s.execute(query):
            if now >= closes:
                if last is None or last < closes:
                    due.append(DueRun(cid, slug, final=True))
            elif visibility == m.ResultsVisibility.live and (last is None or now - last >= LIVE_REFRESH):
                due.append(DueRun(cid, slug, final=False))
    return due


def refresh_due(db: Database, now: datetime | None = None, *,
                prepare: Callable[[Database, int], object] | None = None) -> list[tuple[DueRun, int | None]]:
    """Compute and store every due run (`due_runs`); returns each with its run id, or None when the
    consultation has nothing to rank yet (no votes). When some of its respondents are flagged, the
    run without them is stored too. ``prepare(db, consultation_id)`` runs first for each (the worker
    flags suspicious respondents there). Called by the worker and `idmx rank --due`."""
    done = []
    for job in due_runs(db, now or clock.now()):
        if prepare is not None:
            prepare(db, job.consultation_id)
        try:
            run = run_for_consultation(db, job.consultation_id)
        except RankingError:
            done.append((job, None))
            continue
        if run.summary.get("flagged_respondents"):
            with contextlib.suppress(RankingError):  # every respondent flagged: only the run of all
                run_for_consultation(db, job.consultation_id, RunParams(exclude_flagged=True))
        done.append((job, run.id))
    return done


def unmet_targets(db: Database, consultation_id: int) -> list[tuple[str, str]]:
    """The consultation's stored weighting targets that no respondent of its ranking belongs to
    (`pipeline.unmet_targets`), with the category's name: why a ranking cannot be computed."""
    with db.read() as s:
        method = s.scalar(select(m.Consultation.voting_method).where(m.Consultation.id == consultation_id))
        targets = queries.stored_targets(s, consultation_id)
        if method is None or len(targets) == 0:
            return []
        cells = queries.respondent_cells(s, consultation_id, kind_of(str(method)))
        if len(cells) == 0:
            return []
        names = {**{code: localised(es, en) for code, es, en in s.execute(
            select(m.Segment.code, m.Segment.name_es, m.Segment.name_en))},
                 **dict(s.execute(select(m.State.inegi_code, m.State.name)).all())}
    return [(variable, names.get(category, category)) for variable, category in pipeline_unmet(targets, cells)]


def has_votes(db: Database, consultation_id: int) -> bool:
    """Whether anyone voted yet: a missing run then means "being computed", not "nothing to rank"."""
    with db.read() as s:
        return bool(s.scalar(select(exists().where(m.Vote.consultation_id == consultation_id)))
                    or s.scalar(select(exists().where(m.PairwiseVote.consultation_id == consultation_id))))


def consultation_id(db: Database, slug: str) -> int:
    with db.read() as s:
        cid = s.scalar(select(m.Consultation.id).where(m.Consultation.slug == slug))
    if cid is None:
        raise NotFound(_("There is no consultation at this address.") + f" ({slug})")
    return cid


def titles(db: Database, consultation_id: int) -> dict[int, str]:
    with db.read() as s:
        return dict(s.execute(select(m.Proposal.id, m.Proposal.title).where(m.Proposal.consultation_id == consultation_id)).all())


def segment_names(db: Database) -> dict[str, str]:
    """Segment codes to names in the active language, with the cell of those who did not say."""
    with db.read() as s:
        rows = s.execute(select(m.Segment.code, m.Segment.name_es, m.Segment.name_en).order_by(m.Segment.sort_order)).all()
    names = {code: localised(es, en) for code, es, en in rows}
    names[NOT_STATED] = _("Not stated")
    return names
