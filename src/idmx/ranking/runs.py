"""Ranking runs: one code path from inputs (database or files) to stored, reproducible results.

    inputs --(cells + sufficient statistics)--> compute_ranking --> rows --> RankingRun / ranking.csv

* `run_for_consultation` reads a consultation's inputs in one snapshot: the sufficient statistics
  per proposal and weighting cell (aggregated by the database, `idmx.ranking.queries`) and, streamed
  once with bounded memory, the canonical input rows that the fingerprint hashes (so a run reads the
  votes twice: once inside the database, once as a stream). Pairwise runs count the per-respondent
  pair clusters from that same stream (see `_read_db_inputs`). It then computes outside the
  transaction and stores an immutable `RankingRun`.
* `rank_files` does the same from R.csv / V.csv / T.csv (`idmx.ranking.files`): it reduces the rows
  to the same cells and statistics and calls the same `compute_ranking`, so equal inputs give the same
  fingerprint and bit-for-bit the same results.
* `write_inputs` writes a consultation's inputs in the file formats, so `idmx rank` on them reproduces
  a stored run (results and fingerprint).

Weights. Respondents are grouped into cells (every combination of the weighting variables: segment
and state for database runs, every non-id column of R.csv for files); all respondents of a cell weigh
the same, computed by raking (`compute.rake`; post-stratification when one variable has targets) from
the respondent count per cell. A database run without stored targets for ``segment`` uses an equal
share per segment that has respondents (DESIGN section 3) and records those targets in its params;
exporting them as T.csv reproduces the run. Files without targets give every respondent weight 1.

Everything heavy runs in `compute_ranking`, a plain function that may be called from a worker thread;
it pins BLAS to one thread (``threadpool_limits(1)``) so concurrent runs do not oversubscribe cores.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph
from sqlalchemy import select
from threadpoolctl import threadpool_limits

import idmx
from idmx.db import Database
from idmx.db import models as m
from idmx.db.types import utcnow
from idmx.ranking import compute, files, queries
from idmx.ranking.compute import NOT_STATED, RankingError
from idmx.ranking.files import Fingerprint, InputFileError

__all__ = [
    "CellInputs",
    "FileRun",
    "RankingResult",
    "RunParams",
    "cell_weights",
    "compute_ranking",
    "default_targets",
    "latest_run",
    "rank_files",
    "result_rows",
    "run_for_consultation",
    "write_inputs",
]

METHODS = ("approval", "rating", "pairwise")
VALUES = {"approval": ["exposures", "supporters"], "rating": ["n", "sum", "sumsq"], "pairwise": ["wins"]}


@dataclass(frozen=True)
class RunParams:
    """What shapes a ranking besides its inputs. Stored with every run.

    ``method`` defaults to the consultation's voting method. ``targets`` overrides the consultation's
    weighting targets (``(variable, category, target)`` triples). ``cap`` trims weights to at most
    ``cap`` times the mean weight. ``ridge`` is the Bradley-Terry prior (pairwise only); ``rank_by`` is
    ``"lower"`` (lower interval end, the default) or ``"point"``.
    """

    method: str | None = None
    targets: tuple[tuple[str, str, float], ...] | None = None
    cap: float | None = None
    ridge: float = 0.1
    confidence: float = 0.95
    rank_by: str = "lower"

    def check(self) -> None:
        if self.method is not None and self.method not in METHODS:
            raise RankingError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.cap is not None and not (np.isfinite(self.cap) and self.cap >= 1):
            raise RankingError(f"cap must be a number >= 1 (a multiple of the mean weight), got {self.cap!r}")
        if not (np.isfinite(self.ridge) and self.ridge >= 0):
            raise RankingError(f"ridge must be a number >= 0, got {self.ridge!r}")
        if not 0 < self.confidence < 1:
            raise RankingError(f"confidence must be strictly between 0 and 1, got {self.confidence!r}")
        if self.rank_by not in ("lower", "point"):
            raise RankingError(f"rank_by must be 'lower' or 'point', got {self.rank_by!r}")


@dataclass
class CellInputs:
    """Everything a ranking needs, reduced to weighting cells.

    ``cells``: one row per cell (row position = cell code) with the variables' categories and
    ``respondents``, sorted by the categories. ``stats``, sorted by its key columns:

    * approval ``proposal_id, cell, exposures, supporters`` and rating ``proposal_id, cell, n, sum,
      sumsq``, per proposal and cell;
    * pairwise ``respondent_id, winner_id, loser_id, cell, wins``, per respondent and ordered pair
      (the clusters of the cluster-robust intervals; Bradley-Terry sums them per pair).

    ``targets``: ``variable, category, target``, or None for equal weights.
    """

    method: str
    variables: list[str]
    cells: pd.DataFrame
    stats: pd.DataFrame
    targets: pd.DataFrame | None = None


@dataclass
class RankingResult:
    rows: list[dict[str, Any]]
    cell_weights: pd.Series
    segment_ranks: list[dict[str, Any]] | None
    summary: dict[str, Any]


# --- computation (shared by the database and the file paths) -------------------------------------------


def cell_weights(
    cells: pd.DataFrame, variables: list[str], targets: pd.DataFrame | None, cap: float | None
) -> tuple[pd.Series, dict[str, Any]]:
    """Weight of a respondent in each cell (indexed by cell code), and raking diagnostics.

    Raking needs one row per respondent; the cells are expanded to that (``np.repeat`` of the counts:
    respondents, not votes), so both paths hand `compute.rake` the same input.
    """
    counts = cells["respondents"].to_numpy(dtype=np.int64)
    if targets is None or len(targets) == 0:
        return pd.Series(np.ones(len(cells)), index=cells.index, name="weight"), {"method": "equal"}
    expanded = pd.DataFrame({v: np.repeat(cells[v].to_numpy(dtype=object), counts) for v in variables})
    expanded.insert(0, "respondent_id", np.arange(int(counts.sum())))
    result = compute.rake(expanded, targets[["variable", "category", "target"]], cap=cap)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    weights = pd.Series(result.weights.to_numpy()[starts], index=cells.index, name="weight")
    info = {"method": "rake", "iterations": result.iterations, "converged": result.converged, "unmet": result.unmet}
    return weights, info


def _round(x: Any) -> Any:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return None
    if isinstance(x, (np.integer, int)) and not isinstance(x, bool):
        return int(x)
    value = round(float(x), files.DECIMALS)
    return None if np.isnan(value) else value + 0.0  # + 0.0 turns -0.0 into 0.0


def _plain(x: Any) -> Any:
    return int(x) if isinstance(x, np.integer) else (str(x) if not isinstance(x, (int, str)) else x)


def result_rows(ranked: pd.DataFrame, method: str) -> list[dict[str, Any]]:
    """Rows as stored and printed: rank, proposal_id, score, ci_low, ci_high, n_eff, n_votes
    (+ theta for pairwise), floats rounded to 10 decimals, NaN as None."""
    columns = list(files.RESULT_COLUMNS) + (["theta"] if method == "pairwise" else [])
    out = []
    for rec in ranked[columns].itertuples(index=False):
        row = dict(zip(columns, rec))
        row = {k: (_plain(v) if k == "proposal_id" else _round(v)) for k, v in row.items()}
        out.append(row)
    return out


def _segment_ranks(inputs: CellInputs, weights: pd.Series, params: RunParams) -> list[dict[str, Any]] | None:
    if inputs.method == "pairwise" or "segment" not in inputs.variables:
        return None
    stats = inputs.stats.copy()
    stats["segment"] = inputs.cells["segment"].to_numpy()[stats["cell"].to_numpy()]
    scorer = compute.approval_scores if inputs.method == "approval" else compute.rating_scores
    table = compute.per_segment(stats, weights, "segment", params.rank_by, params.confidence, scorer)
    return [
        {k: (None if pd.isna(v) else _plain(v)) for k, v in rec.items()}
        for rec in table.to_dict(orient="records")
    ]


def compute_ranking(inputs: CellInputs, params: RunParams) -> RankingResult:
    """Weights, scores with intervals, ranks (and per-segment ranks): pure, thread-safe, BLAS pinned."""
    params.check()
    timings: dict[str, float] = {}
    t = time.perf_counter()
    with threadpool_limits(limits=1):
        weights, weighting = cell_weights(inputs.cells, inputs.variables, inputs.targets, params.cap)
        w = weights.to_numpy()
        counts = inputs.cells["respondents"].to_numpy(dtype=float)
        stats = inputs.stats
        if inputs.method == "approval":
            scores = compute.approval_scores(stats[["proposal_id", "cell", "exposures", "supporters"]], weights, params.confidence)
        elif inputs.method == "rating":
            scores = compute.rating_scores(stats[["proposal_id", "cell", "n", "sum", "sumsq"]], weights, params.confidence)
        else:
            # One frame serves as both the wins (summed per pair inside) and the clusters. Weights
            # are constant within a row, so weight_sq = w**2 * wins is exact.
            cw = w[stats["cell"].to_numpy()]
            n = stats["wins"].to_numpy(dtype=float)
            rows_frame = pd.DataFrame({
                "respondent_id": stats["respondent_id"].to_numpy(), "winner_id": stats["winner_id"].to_numpy(),
                "loser_id": stats["loser_id"].to_numpy(), "weight": cw * n, "counts": n, "weight_sq": cw * cw * n,
            })
            scores = compute.bradley_terry(rows_frame, ridge=params.ridge, confidence=params.confidence, clusters=rows_frame)
            del rows_frame
        ranked = compute.rank(scores, params.rank_by)
        rows = result_rows(ranked, inputs.method)
        timings["scores"] = time.perf_counter() - t
        t = time.perf_counter()
        segment_ranks = _segment_ranks(inputs, weights, params)
        timings["segment_ranks"] = time.perf_counter() - t
    total_w = float((counts * w).sum())
    n_eff = total_w**2 / float((counts * w * w).sum()) if total_w > 0 else 0.0
    value_col = {"approval": "exposures", "rating": "n", "pairwise": "wins"}[inputs.method]
    summary = {
        "respondents": int(counts.sum()),
        "cells": len(inputs.cells),
        "vote_rows": int(stats[value_col].sum()),
        "proposals": len(rows),
        "n_eff": _round(n_eff),
        "deff": _round(counts.sum() / n_eff) if n_eff > 0 else None,
        "weighting": weighting,
        "cell_weights": [
            {**{v: inputs.cells[v].iloc[i] for v in inputs.variables}, "respondents": int(counts[i]), "weight": _round(w[i])}
            for i in range(len(inputs.cells))
        ],
        "timings_s": timings,
    }
    return RankingResult(rows, weights, segment_ranks, summary)


def _cell_codes(cells: pd.DataFrame, frame: pd.DataFrame, variables: list[str]) -> np.ndarray:
    if not variables:
        return np.zeros(len(frame), dtype=np.int64)
    index = pd.MultiIndex.from_frame(cells[variables].astype(object))
    codes = index.get_indexer(pd.MultiIndex.from_frame(frame[variables].astype(object)))
    if (codes < 0).any():
        raise RankingError("votes refer to a weighting cell without respondents (inputs changed during the run?)")
    return codes.astype(np.int64)


def _cells_frame(frame: pd.DataFrame, variables: list[str], count: str | None = None) -> pd.DataFrame:
    """Cells sorted by their categories with respondent counts."""
    if not variables:
        n = int(frame[count].sum()) if count else len(frame)
        return pd.DataFrame({"respondents": [n]})
    if count:
        cells = frame[[*variables, count]].rename(columns={count: "respondents"})
    else:
        cells = frame.groupby(variables, sort=False).size().rename("respondents").reset_index()
    cells = cells.astype({v: object for v in variables})
    return cells.sort_values(variables, ignore_index=True, kind="stable")


# --- database runs -----------------------------------------------------------------------------------------


def default_targets(cells: pd.DataFrame) -> pd.DataFrame:
    """Equal share per segment that has respondents (DESIGN section 3)."""
    segments = sorted(pd.unique(cells["segment"]))
    return pd.DataFrame({"variable": "segment", "category": segments, "target": 1.0 / len(segments)})


def _effective_targets(stored: pd.DataFrame, cells: pd.DataFrame, params: RunParams) -> tuple[pd.DataFrame, str]:
    if params.targets is not None:
        targets = pd.DataFrame(list(params.targets), columns=["variable", "category", "target"])
        source = "params"
    elif len(stored) == 0:
        return default_targets(cells), "default"
    else:
        targets, source = stored, "consultation"
        if "segment" not in set(stored["variable"]):
            targets = pd.concat([stored, default_targets(cells)], ignore_index=True)
            source = "consultation+default segment shares"
    targets = targets.astype({"variable": object, "category": object}).assign(target=targets["target"].astype(float))
    targets = _keep_not_stated(targets, cells)
    return targets.sort_values(["variable", "category"], ignore_index=True), source


def _keep_not_stated(targets: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Respondents who skipped an optional question keep their own sample share.

    Staff set targets for the real categories only; weighting cannot tell which of them a person who
    did not answer belongs to, so "not stated" keeps its share of the sample and the stated
    categories share the rest in the proportions of their targets.
    """
    parts = []
    for variable, block in targets.groupby("variable", sort=False):
        present = cells.groupby(variable)["respondents"].sum() if variable in cells else pd.Series(dtype=float)
        missing = NOT_STATED in present.index and present[NOT_STATED] > 0 and NOT_STATED not in set(block["category"])
        if missing:
            share = float(present[NOT_STATED]) / float(present.sum())
            block = block.assign(target=block["target"] / block["target"].sum() * (1.0 - share))
            block = pd.concat([block, pd.DataFrame([{"variable": variable, "category": NOT_STATED, "target": share}])],
                              ignore_index=True)
        parts.append(block)
    return pd.concat(parts, ignore_index=True) if parts else targets


@dataclass
class _DbInputs:
    inputs: CellInputs
    fingerprint: str
    targets_source: str
    timings: dict[str, float] = field(default_factory=dict)


def _consultation_method(session, consultation_id: int, params: RunParams) -> str:
    method = session.scalar(select(m.Consultation.voting_method).where(m.Consultation.id == consultation_id))
    if method is None:
        raise RankingError(f"there is no consultation with id {consultation_id}")
    method = str(method.value)
    if params.method is not None and params.method != method:
        raise RankingError(f"the consultation votes by {method}; it cannot be ranked as {params.method}")
    return method


def _read_db_inputs(
    db: Database, consultation_id: int, params: RunParams, sink: Callable[[str, bytes], None] | None = None
) -> _DbInputs:
    """Cells, statistics and fingerprint from one snapshot. ``sink`` also receives the canonical bytes.

    Approval and rating: the database aggregates per proposal and cell; then the canonical rows are
    streamed once, in bounded memory, into the fingerprint. Pairwise: the per-respondent pair counts
    that the intervals need are as many as the comparisons themselves (pairs x cells far exceeds the
    votes, so per-cell wins are no reduction either), and the canonical rows, sorted by respondent and
    pair, already are them: they are counted from that one stream instead of a second pass in SQL.
    """
    timings: dict[str, float] = {}
    variables = list(queries.VARIABLES)
    with db.read() as s:
        queries.consistent_snapshot(s)
        method = _consultation_method(s, consultation_id, params)
        t = time.perf_counter()
        cell_counts = queries.respondent_cells(s, consultation_id, method)
        if len(cell_counts) == 0:
            raise RankingError("the consultation has no votes on published proposals yet; there is nothing to rank")
        cells = _cells_frame(cell_counts, variables, count="respondents")
        targets, source = _effective_targets(queries.stored_targets(s, consultation_id), cells, params)
        stats = None
        if method != "pairwise":
            stats = queries.approval_stats(s, consultation_id) if method == "approval" else queries.rating_stats(s, consultation_id)
            stats["cell"] = _cell_codes(cells, stats, variables)
            stats = stats[["proposal_id", "cell", *VALUES[method]]]
        timings["aggregate"] = time.perf_counter() - t

        t = time.perf_counter()
        fp = Fingerprint()

        def emit(section: str, data: bytes) -> None:
            fp.update(section, data)
            if sink is not None:
                sink(section, data)

        emit("respondents", files.csv_line(["respondent_id", *variables]).encode())
        lookup = {tuple(row): i for i, row in enumerate(cells[variables].itertuples(index=False))}
        resp_ids: list[int] = []
        resp_cells: list[int] = []
        for batch in queries.iter_respondent_rows(s, consultation_id, method):
            emit("respondents", "".join([files.csv_line(r) for r in batch]).encode())
            resp_ids.extend(r[0] for r in batch)
            resp_cells.extend(lookup[(seg, st)] for _, seg, st in batch)
        if len(resp_ids) != int(cells["respondents"].sum()):
            raise RankingError("respondent rows and cell counts disagree (inputs changed during the run?)")
        emit("votes", files.csv_line(queries.vote_header(method)).encode())
        parts = []
        for chunk in queries.iter_vote_rows(s, consultation_id, method):
            emit("votes", chunk)
            if method == "pairwise":
                parts.append(_parse_rows(chunk))
        for line in files.target_lines(targets):
            emit("targets", line.encode())
        timings["fingerprint"] = time.perf_counter() - t
    if method == "pairwise":
        t = time.perf_counter()
        rows = np.concatenate(parts) if parts else np.zeros((0, 3), dtype=np.int64)
        del parts
        ids = np.asarray(resp_ids, dtype=np.int64)
        stats = pair_counts(rows[:, 0], rows[:, 1], rows[:, 2], ids, np.asarray(resp_cells, dtype=np.int64))
        timings["pair_counts"] = time.perf_counter() - t
    inputs = CellInputs(method, variables, cells, stats.reset_index(drop=True), targets)
    return _DbInputs(inputs, fp.hexdigest(), source, timings)


def _parse_rows(chunk: bytes) -> np.ndarray:
    """Canonical integer vote lines ``a,b,c\\n`` to an (n, 3) int64 array."""
    text = chunk.rstrip(b"\n").replace(b"\n", b",")
    return np.fromstring(text, dtype=np.int64, sep=",").reshape(-1, 3) if text else np.zeros((0, 3), np.int64)


def pair_counts(
    respondent: np.ndarray, winner: np.ndarray, loser: np.ndarray, respondent_ids: np.ndarray, respondent_cells: np.ndarray
) -> pd.DataFrame:
    """Comparisons sorted by (respondent, winner, loser) -> ``respondent_id, winner_id, loser_id, cell, wins``.

    ``respondent_ids`` (sorted) and ``respondent_cells`` give each respondent's cell.
    """
    n = len(respondent)
    new = np.ones(n, dtype=bool)
    if n > 1:
        new[1:] = (respondent[1:] != respondent[:-1]) | (winner[1:] != winner[:-1]) | (loser[1:] != loser[:-1])
    starts = np.flatnonzero(new)
    wins = np.diff(np.append(starts, n)).astype(np.int64)
    r = respondent[starts]
    pos = np.searchsorted(respondent_ids, r)
    pos = np.minimum(pos, len(respondent_ids) - 1)
    if len(r) and not np.array_equal(respondent_ids[pos], r):
        raise RankingError("comparisons from respondents that are not among the ranking's respondents")
    return pd.DataFrame({
        "respondent_id": r, "winner_id": winner[starts], "loser_id": loser[starts],
        "cell": respondent_cells[pos].astype(np.int64), "wins": wins,
    })


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
            method=m.VotingMethod(read.inputs.method),
            params=stored_params,
            fingerprint=read.fingerprint,
            code_version=str(idmx.__version__)[:40],
            created_at=utcnow(),
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
        stmt = stmt.where(m.RankingRun.method == m.VotingMethod(method))
    stmt = stmt.order_by(m.RankingRun.created_at.desc(), m.RankingRun.id.desc()).limit(1)
    with db.read() as s:
        return s.scalar(stmt)


@dataclass(frozen=True)
class WrittenInputs:
    respondents: Path
    votes: Path
    targets: Path
    method: str
    fingerprint: str | None  # None when ids were mapped (the files are then not in canonical order)


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
    Without ``respondent_id`` the files are in canonical form and their fingerprint, returned, is the
    one a run stores. ``respondent_id`` maps database ids to the ids written (e.g. per-export
    pseudonyms); the rows then keep the database order, which `idmx rank` re-sorts.
    """
    params = params or RunParams()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"respondents": directory / "R.csv", "votes": directory / "V.csv", "targets": directory / "T.csv"}
    with ExitStack() as stack:
        handles = {k: stack.enter_context(open(p, "wb")) for k, p in paths.items()}

        def sink(section: str, data: bytes) -> None:
            if respondent_id is not None and section in ("respondents", "votes"):
                data = _remap(data, respondent_id)
            handles[section].write(data)

        read = _read_db_inputs(db, consultation_id, params, sink)
    return WrittenInputs(
        paths["respondents"], paths["votes"], paths["targets"], read.inputs.method,
        read.fingerprint if respondent_id is None else None,
    )


def _remap(data: bytes, respondent_id: Callable[[int], object]) -> bytes:
    out = []
    for line in data.decode().splitlines(keepends=True):
        first, sep, rest = line.partition(",")
        if first == "respondent_id" or not first.strip().lstrip("-").isdigit():
            out.append(line)
        else:
            out.append(files.csv_field(respondent_id(int(first))) + sep + rest)
    return "".join(out).encode()


# --- file runs -----------------------------------------------------------------------------------------


@dataclass
class FileRun:
    rows: list[dict[str, Any]]
    fingerprint: str
    respondent_ids: pd.Series
    respondent_weights: np.ndarray
    summary: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)


def _check_connected(votes: files.VotesFile, weight_of_vote: np.ndarray) -> None:
    """ridge 0 needs a strongly connected "beat" graph; name the V.csv line of an isolated proposal."""
    frame = votes.frame
    pos = weight_of_vote > 0
    ids = pd.Index(pd.unique(pd.concat([frame["winner_id"], frame["loser_id"]], ignore_index=True)))
    a = ids.get_indexer(frame["winner_id"][pos])
    b = ids.get_indexer(frame["loser_id"][pos])
    graph = sparse.csr_matrix((np.ones(len(a)), (a, b)), shape=(len(ids), len(ids)))
    ncomp, labels = csgraph.connected_components(graph, directed=True, connection="strong")
    if ncomp <= 1:
        return
    sizes = np.bincount(labels)
    small = labels == int(np.argmin(sizes))
    pid = ids[int(np.argmax(small))]
    won = np.bincount(a, minlength=len(ids)) > 0
    lost = np.bincount(b, minlength=len(ids)) > 0
    idx = ids.get_loc(pid)
    why = "never lost" if not lost[idx] else ("never won" if not won[idx] else "cannot be linked by wins in both directions to the rest")
    mention = (frame["winner_id"] == pid) | (frame["loser_id"] == pid)
    i = int(np.argmax(mention.to_numpy()))
    column = "winner_id" if frame["winner_id"].iloc[i] == pid else "loser_id"
    raise InputFileError(
        votes.label,
        f"with --ridge 0 every proposal must be linked to every other by chains of wins in both directions, "
        f"but proposal {files._show(pid)} {why} (the comparisons split into {ncomp} groups); use --ridge > 0",
        line=int(frame["_line"].iloc[i]), column=column,
    )


def file_inputs(
    respondents: files.RespondentsFile, votes: files.VotesFile, targets: files.TargetsFile | None
) -> tuple[CellInputs, np.ndarray]:
    """Reduce file rows to the cells and statistics of a database run; also each respondent's cell."""
    variables = respondents.variables
    rframe = respondents.frame
    cells = _cells_frame(rframe, variables)
    resp_cell = _cell_codes(cells, rframe, variables)
    cell_by_id = pd.Series(resp_cell, index=pd.Index(rframe["respondent_id"]))
    vframe = votes.frame
    vcell = cell_by_id.reindex(pd.Index(vframe["respondent_id"])).to_numpy(dtype=np.int64)
    method = votes.method
    if method == "approval":
        g = pd.DataFrame({"proposal_id": vframe["proposal_id"].to_numpy(), "cell": vcell,
                          "value": vframe["value"].to_numpy(dtype=np.int64)})
        stats = g.groupby(["proposal_id", "cell"], sort=True).agg(
            exposures=("value", "size"), supporters=("value", "sum")).reset_index()
    elif method == "rating":
        value = vframe["value"].to_numpy()
        g = pd.DataFrame({"proposal_id": vframe["proposal_id"].to_numpy(), "cell": vcell,
                          "value": value, "sq": value * value})
        stats = g.groupby(["proposal_id", "cell"], sort=True).agg(
            n=("value", "size"), sum=("value", "sum"), sumsq=("sq", "sum")).reset_index()
    else:
        stats = pair_counts(
            vframe["respondent_id"].to_numpy(), vframe["winner_id"].to_numpy(), vframe["loser_id"].to_numpy(),
            rframe["respondent_id"].to_numpy(), resp_cell,
        )
    for col in stats.columns:
        if col in ("cell", *VALUES[method]) and stats[col].dtype.kind in "iu":
            stats[col] = stats[col].astype(np.int64)
    target_frame = targets.frame[["variable", "category", "target"]] if targets is not None else None
    return CellInputs(method, variables, cells, stats, target_frame), resp_cell


def rank_files(
    respondents_path: str | Path,
    votes_path: str | Path,
    method: str,
    targets_path: str | Path | None = None,
    params: RunParams | None = None,
) -> FileRun:
    """`idmx rank` on files: validate, fingerprint, reduce to cells, compute (no database)."""
    params = params or RunParams(method=method)
    if method not in METHODS:
        raise RankingError(f"mode must be one of {', '.join(METHODS)}, got {method!r}")
    params.check()
    respondents = files.read_respondents(respondents_path)
    votes = files.read_votes(votes_path, method, respondents)
    targets = files.read_targets(targets_path, respondents) if targets_path is not None else None

    fp = Fingerprint()
    for line in files.respondent_lines(respondents.frame, respondents.variables):
        fp.update("respondents", line)
    for line in files.vote_lines(votes.frame, votes.header):
        fp.update("votes", line)
    for line in files.target_lines(targets.frame if targets is not None else None):
        fp.update("targets", line)

    inputs, resp_cell = file_inputs(respondents, votes, targets)
    weights, _ = cell_weights(inputs.cells, inputs.variables, inputs.targets, params.cap)
    if method == "pairwise" and params.ridge == 0:
        cell_by_id = pd.Series(resp_cell, index=pd.Index(respondents.frame["respondent_id"]))
        vote_w = weights.to_numpy()[cell_by_id.reindex(pd.Index(votes.frame["respondent_id"])).to_numpy()]
        _check_connected(votes, vote_w)
    result = compute_ranking(inputs, params)
    return FileRun(
        rows=result.rows,
        fingerprint=fp.hexdigest(),
        respondent_ids=respondents.frame["respondent_id"],
        respondent_weights=result.cell_weights.to_numpy()[resp_cell],
        summary=result.summary,
        params=asdict(params),
    )

