"""Ranking runs from the database: read a consultation's inputs in one snapshot, compute outside the
transaction (`idmx.ranking.pipeline.compute_ranking`), store an immutable `RankingRun`; and write those
inputs as files so `idmx rank` on them reproduces a stored run.

Approval and rating read the sufficient statistics per proposal and weighting cell that the database's
triggers keep (`idmx.ranking.tallies`, read by `queries.tally_rows`), fingerprinted as statistics
(format 3); a run never reads the votes. Pairwise streams its input rows once into an int64 array and
fingerprints them with respondents numbered by content (format 2); the per-respondent pair clusters are
counted from that same stream.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import exists, func, select

import idmx
from idmx import clock, votemodes
from idmx.db import Database
from idmx.db import models as m
from idmx.errors import NotFound
from idmx.i18n import gettext as _
from idmx.i18n import localised
from idmx.ranking import files, queries
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
)
from idmx.ranking.pipeline import (
    unmet_targets as pipeline_unmet,
)
from idmx.statistics import NOT_STATED, RankingError


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
    """
    timings: dict[str, float] = {}
    variables = list(queries.VARIABLES)
    rows = ids = cell_of = None
    with db.read() as s:
        queries.consistent_snapshot(s)
        method = _consultation_method(s, consultation_id, params)
        kind = kind_of(method)  # what the queries read: the mode's sufficient statistics
        t = time.perf_counter()
        cell_counts = queries.respondent_cells(s, consultation_id, kind)
        if len(cell_counts) == 0:
            raise RankingError("the consultation has no votes on published proposals yet; there is nothing to rank")
        cells = cells_frame(cell_counts, variables, count="respondents")
        targets, source = effective_targets(queries.stored_targets(s, consultation_id), cells, params)
        stats = None
        if kind != "pairwise":
            largest = int(cell_counts["respondents"].max())
            stats = tally_stats(queries.tally_rows(s, consultation_id, kind, largest), cell_counts, method)
            if len(stats) == 0:
                raise RankingError("the consultation has no votes on published proposals yet; there is nothing to rank")
        timings["aggregate"] = time.perf_counter() - t
        if kind == "pairwise" or keep_rows:
            t = time.perf_counter()
            ids, cell_of = _respondents(s, consultation_id, kind, cell_counts)
            parts = list(_vote_arrays(s, consultation_id, kind))
            rows = np.concatenate(parts) if parts else np.zeros((0, 3), dtype=np.int64)
            del parts
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
    if not keep_rows:
        return _DbInputs(inputs, fingerprint, source, timings)
    return _DbInputs(inputs, fingerprint, source, timings, ids, cell_of, number, rows, canon.fingerprint)


def _respondents(s, consultation_id: int, method: str, cell_counts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The ranking's respondents (ids, sorted) and each one's cell (row of ``cell_counts``)."""
    keys = queries.respondent_keys(s, consultation_id, method)
    if len(keys) != int(cell_counts["respondents"].sum()):
        raise RankingError("respondent rows and cell counts disagree (inputs changed during the run?)")
    return keys[:, 0].copy(), cells_of(cell_counts, keys[:, 1], keys[:, 2])


# The columns of `queries.iter_vote_rows`, for reading them as integers on SQLite.
_VOTE_COLUMNS = {
    "approval": ("e.respondent_id", "e.proposal_id", "CASE WHEN v.id IS NULL THEN 0 ELSE 1 END"),
    "rating": ("v.respondent_id", "v.proposal_id", "v.value"),
    "pairwise": ("pv.respondent_id", "pv.winner_id", queries._LOSER),
}


def _vote_arrays(s, consultation_id: int, method: str) -> Iterator[np.ndarray]:
    """The rows of `queries.iter_vote_rows` (same order) as (n, 3) int64 arrays.

    One row per respondent with its other two columns as lists, read by numpy: comma-separated text
    on SQLite (``group_concat``), binary int64 pairs on PostgreSQL (``string_agg`` of ``int8send``).
    Returning every vote as its own row costs a Python tuple and three integers per row on SQLite,
    and a COPY message per row on PostgreSQL, each more than the database's whole walk.
    """
    second, third = _VOTE_COLUMNS[method][1:]
    rows = queries._counted_rows(s, method)
    # Unordered lists: on SQLite approval and rating rows come in proposal order from the
    # (respondent, proposal) indexes, others in the order they were cast; an ORDER BY inside
    # PostgreSQL's aggregates sorts every group once per list (1 s more at 2,000,000 rows). Numpy
    # sorts the batches that need it, below.
    sqlite = queries._is_sqlite(s)
    if sqlite:
        sql = f"SELECT r.id, group_concat({second}), group_concat({third}) {rows} GROUP BY r.id ORDER BY r.id"
        batches = queries._stream(s, sql, {"c": consultation_id}, 5_000)
    else:
        # PostgreSQL: one binary string of (second, third) int64 pairs per respondent (no numbers
        # formatted as text), read whole: a cursor would forbid the parallel plan.
        pair = f"int8send(CAST({second} AS BIGINT)) || int8send(CAST({third} AS BIGINT))"
        sql = f"SELECT r.id, string_agg({pair}, ''::bytea) {rows} GROUP BY r.id ORDER BY r.id"
        result = queries._fetch_all(s, sql, {"c": consultation_id}, binary=True)
        batches = (result[i:i + 5_000] for i in range(0, len(result), 5_000))
    for part in batches:
        ids = np.fromiter((row[0] for row in part), dtype=np.int64, count=len(part))
        if sqlite:
            counts = np.fromiter((row[1].count(",") + 1 for row in part), dtype=np.int64, count=len(part))
            columns = [np.fromstring(",".join([row[k] for row in part]), dtype=np.int64, sep=",") for k in (1, 2)]
        else:
            counts = np.fromiter((len(row[1]) // 16 for row in part), dtype=np.int64, count=len(part))
            pairs = np.frombuffer(b"".join([row[1] for row in part]), dtype=">i8").reshape(-1, 2)
            columns = [pairs[:, 0], pairs[:, 1]]
        out = np.empty((int(counts.sum()), 3), dtype=np.int64)
        out[:, 0] = np.repeat(ids, counts)
        for col, values in enumerate(columns, start=1):
            if len(values) != len(out):  # both lists step over the same rows
                raise RankingError("misaligned vote lists from the database")
            out[:, col] = values
        # A batch holds whole respondents, so sorting it sorts their rows.
        same = out[1:, 0] == out[:-1, 0]
        step = np.diff(out[:, 1])
        if np.any(same & ((step < 0) | ((step == 0) & (np.diff(out[:, 2]) < 0)))):
            out = out[np.lexsort((out[:, 2], out[:, 1], out[:, 0]))]
        yield out


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
    }
    timings = {**read.timings, "compute": compute_s}
    timings.update({f"compute.{k}": v for k, v in result.summary["timings_s"].items()})
    summary = {**result.summary, "timings_s": {k: round(v, 4) for k, v in timings.items()}}
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
            summary=summary,
        )
        s.add(run)
    return run


def latest_run(db: Database, consultation_id: int, method: str | None = None) -> m.RankingRun | None:
    """The consultation's most recent run (of ``method``, if given), or None."""
    stmt = select(m.RankingRun).where(m.RankingRun.consultation_id == consultation_id)
    if method is not None:
        stmt = stmt.where(m.RankingRun.method == str(method))
    stmt = stmt.order_by(m.RankingRun.created_at.desc(), m.RankingRun.id.desc()).limit(1)
    with db.read() as s:
        return s.scalar(stmt)


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


def refresh_due(db: Database, now: datetime | None = None) -> list[tuple[DueRun, int | None]]:
    """Compute and store every due run (`due_runs`); returns each with its run id, or None when the
    consultation has nothing to rank yet (no votes). Called by the worker and `idmx rank --due`."""
    done = []
    for job in due_runs(db, now or clock.now()):
        try:
            run = run_for_consultation(db, job.consultation_id)
        except RankingError:
            done.append((job, None))
            continue
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
