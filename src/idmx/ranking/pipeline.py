"""Ranking runs, the pure part: one code path from inputs (database or files) to reproducible results.

    inputs --(cells + sufficient statistics)--> compute_ranking --> rows --> RankingRun / ranking.csv

* `idmx.ranking.services.run_for_consultation` reads a consultation's inputs in one snapshot. Approval and rating: the
  sufficient statistics per proposal and weighting cell that the database's triggers keep
  (`idmx.ranking.tallies`, read by `queries.tally_rows`), fingerprinted as statistics
  (`files.statistics_fingerprint`, format 3); a run never reads the votes. Pairwise: the input rows,
  streamed once into an int64 array (24 bytes a row) and fingerprinted with the respondents numbered
  by their content, so that it does not depend on their ids (`files.canonical_fingerprint`, format
  2); the per-respondent pair clusters are counted from that same stream, relabelled with those
  numbers (`canonical_clusters`, so the file path sees the same rows in the same order). It then
  computes outside the transaction and stores an immutable `RankingRun`.
* `rank_files` does the same from R.csv / V.csv / T.csv (`idmx.ranking.files`): it reduces the rows
  to the same cells and statistics and calls the same `compute_ranking`, so equal inputs give the same
  fingerprint and bit-for-bit the same results.
* `idmx.ranking.services.write_inputs` writes a consultation's inputs in the file formats, so `idmx rank` on them reproduces
  a stored run (results and fingerprint); the public export (`idmx.exports.services`)
  streams the same rows under per-export pseudonyms.

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

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph
from threadpoolctl import threadpool_limits

from idmx import statistics as compute
from idmx import votemodes
from idmx.ranking import files
from idmx.ranking.files import InputFileError
from idmx.statistics import NOT_STATED, RankingError

__all__ = [
    "CellInputs",
    "FileRun",
    "RankingResult",
    "RunParams",
    "canonical_clusters",
    "cell_weights",
    "compute_ranking",
    "default_targets",
    "rank_files",
    "result_rows",
]

VALUES = {**{k: list(v) for k, v in files.STATISTICS.items()}, "pairwise": ["wins"]}


def kind_of(method: str) -> str:
    """The sufficient statistics a vote mode's runs read: "approval", "rating" or "pairwise"."""
    try:
        return votemodes.get(method).statistics
    except ValueError as exc:
        raise RankingError(str(exc)) from None


@dataclass(frozen=True)
class RunParams:
    """What shapes a ranking besides its inputs. Stored with every run.

    ``method`` defaults to the consultation's voting method. ``targets`` overrides the consultation's
    weighting targets (``(variable, category, target)`` triples). ``cap`` trims weights to at most
    ``cap`` times the mean weight. ``ridge`` is the precision of the Bradley-Terry prior (pairwise only):
    None estimates it from the comparisons (`idmx.statistics.bradley_terry`), a number fixes it; ``rank_by`` is
    ``"lower"`` (lower interval end, the default) or ``"point"``. ``exclude_flagged`` leaves out the
    respondents flagged as suspicious (runs from the database only).
    """

    method: str | None = None
    targets: tuple[tuple[str, str, float], ...] | None = None
    cap: float | None = None
    ridge: float | None = None
    confidence: float = 0.95
    rank_by: str = "lower"
    exclude_flagged: bool = False

    def check(self) -> None:
        if self.method is not None and self.method not in {mode.code for mode in votemodes.all_modes()}:
            raise RankingError(f"method must be a vote mode ({', '.join(mode.code for mode in votemodes.all_modes())}), "
                               f"got {self.method!r}")
        if self.cap is not None and not (np.isfinite(self.cap) and self.cap >= 1):
            raise RankingError(f"cap must be a number >= 1 (a multiple of the mean weight), got {self.cap!r}")
        if self.ridge is not None and not (np.isfinite(self.ridge) and self.ridge >= 0):
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
    segment_figures: dict[str, Any] | None = None  # `segment_figures`


# --- computation (shared by the database and the file paths) -------------------------------------------


def cell_weights(
    cells: pd.DataFrame, variables: list[str], targets: pd.DataFrame | None, cap: float | None
) -> tuple[pd.Series, dict[str, Any]]:
    """Weight of a respondent in each cell (indexed by cell code), and raking diagnostics.

    Both paths hand `compute.rake` the cells with their respondent counts (respondents, not votes).
    """
    counts = cells["respondents"].to_numpy(dtype=np.int64)
    if targets is None or len(targets) == 0:
        return pd.Series(np.ones(len(cells)), index=cells.index, name="weight"), {"method": "equal"}
    frame = pd.DataFrame({"respondent_id": np.arange(len(cells)), **{v: cells[v].to_numpy(dtype=object) for v in variables}})
    result = compute.rake(frame, targets[["variable", "category", "target"]], cap=cap, counts=counts)
    weights = pd.Series(result.weights.to_numpy(), index=cells.index, name="weight")
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


def _column(series: pd.Series, convert: Callable[[Any], Any]) -> list[Any]:
    """A column as plain Python values (``convert`` each), missing values as None.

    Plain integer and float columns take a fast path with the same result as ``convert`` per value.
    """
    kind = series.dtype.kind if isinstance(series.dtype, np.dtype) else ""
    if kind in "iu" and kind:
        return series.tolist()
    if isinstance(series.dtype, pd.api.extensions.ExtensionDtype) and series.dtype.kind in "iu" and convert is _plain:
        missing = series.isna().to_numpy().tolist()  # nullable integers (ranks a segment lacks)
        values = series.to_numpy(dtype=np.int64, na_value=0).tolist()
        return [None if gone else v for v, gone in zip(values, missing)]
    if kind == "f" and convert is _round:
        return [None if math.isnan(v) else round(v, files.DECIMALS) + 0.0 for v in series.tolist()]
    missing = series.isna().to_numpy()
    values = series.astype(object).tolist()
    return [None if gone else convert(v) for v, gone in zip(values, missing)]


def _records(frame: pd.DataFrame, converters: dict[str, Callable[[Any], Any]]) -> list[dict[str, Any]]:
    columns = list(frame.columns)
    lists = [_column(frame[c], converters.get(c, _plain)) for c in columns]
    return [dict(zip(columns, row)) for row in zip(*lists)]


def result_rows(ranked: pd.DataFrame, method: str) -> list[dict[str, Any]]:
    """Rows as stored and printed: rank, proposal_id, score, ci_low, ci_high, n_eff, n_votes
    (+ theta for pairwise), floats rounded to 10 decimals, NaN as None."""
    columns = list(files.RESULT_COLUMNS) + (["theta"] if kind_of(method) == "pairwise" else [])
    return _records(ranked[columns], {c: _round for c in columns if c != "proposal_id"})


def _segment_ranks(
    inputs: CellInputs, weights: pd.Series, params: RunParams, overall: pd.DataFrame
) -> tuple[list[dict[str, Any]] | None, dict[str, Any] | None]:
    mode = votemodes.get(inputs.method)
    if mode.scorer is None or "segment" not in inputs.variables:
        return None, None
    stats = inputs.stats.copy()
    # Categorical: the segment of each of the many statistics rows without a string per row.
    codes, labels = pd.factorize(inputs.cells["segment"])
    stats["segment"] = pd.Categorical.from_codes(codes[stats["cell"].to_numpy()], categories=labels)
    table = compute.per_segment(stats, weights, "segment", params.rank_by, params.confidence, mode.scorer, overall)
    ranks = ["proposal_id", *(c for c in table.columns if c.startswith("rank_"))]
    return _records(table[ranks], {}), segment_figures(table)


# Each segment's own figures are for reading, not for reproducing the ranking (that is `results`, at
# `files.DECIMALS`): six decimals.
SEGMENT_DECIMALS = 6
FIGURES = ("score", "ci_low", "ci_high", "n_eff", "n_votes")


def segment_figures(table: pd.DataFrame) -> dict[str, Any]:
    """Each segment's own score, interval, Kish n_eff and votes from `statistics.per_segment`, by
    column: ``{"proposal_id": [...], "segments": {code: {"score": [...], ...}}}``, None where a
    segment did not vote on a proposal. By column rather than a record per proposal: a national run
    has hundreds of thousands of figures, which as records cost a tenth of a second to build and store."""
    codes = sorted(c[len("rank_"):] for c in table.columns if c.startswith("rank_") and c != "rank_overall")
    out: dict[str, Any] = {"proposal_id": table["proposal_id"].tolist(), "segments": {}}
    for code in codes:
        columns: dict[str, list[Any]] = {}
        for figure in FIGURES:
            values = table[f"{figure}_{code}"].to_numpy(dtype=float)
            missing = np.isnan(values)
            if figure == "n_votes":
                listed = np.where(missing, 0, values).astype(np.int64).tolist()
            else:
                listed = (np.round(np.where(missing, 0.0, values), SEGMENT_DECIMALS) + 0.0).tolist()
            if missing.any():
                listed = [None if gone else v for v, gone in zip(listed, missing.tolist())]
            columns[figure] = listed
        out["segments"][code] = columns
    return out


def compute_ranking(inputs: CellInputs, params: RunParams, *, segments: bool = True) -> RankingResult:
    """Weights, scores with intervals, ranks (and per-segment ranks unless ``segments`` is False: the
    open-data package publishes only the overall ranking): pure, thread-safe, BLAS pinned."""
    params.check()
    timings: dict[str, float] = {}
    t = time.perf_counter()
    with threadpool_limits(limits=1):
        weights, weighting = cell_weights(inputs.cells, inputs.variables, inputs.targets, params.cap)
        w = weights.to_numpy()
        counts = inputs.cells["respondents"].to_numpy(dtype=float)
        stats = inputs.stats
        mode = votemodes.get(inputs.method)
        if mode.scorer is not None:
            scores = mode.scorer(stats[["proposal_id", "cell", *VALUES[mode.statistics]]], weights, params.confidence)
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
        prior = scores.attrs.get("ridge")  # pairwise: the prior precision used (estimated unless fixed)
        ranked = compute.rank(scores, params.rank_by)
        rows = result_rows(ranked, inputs.method)
        timings["scores"] = time.perf_counter() - t
        t = time.perf_counter()
        segment_ranks, figures = _segment_ranks(inputs, weights, params, ranked) if segments else (None, None)
        timings["segment_ranks"] = time.perf_counter() - t
    total_w = float((counts * w).sum())
    n_eff = total_w**2 / float((counts * w * w).sum()) if total_w > 0 else 0.0
    value_col = {"approval": "exposures", "rating": "n", "pairwise": "wins"}[mode.statistics]
    summary = {
        **({"prior_precision": _round(prior)} if prior is not None else {}),
        "respondents": int(counts.sum()),
        "cells": len(inputs.cells),
        "vote_rows": int(stats[value_col].sum()),
        "proposals": len(rows),
        "n_eff": _round(n_eff),
        "deff": _round(counts.sum() / n_eff) if n_eff > 0 else None,
        "weighting": weighting,
        "cell_weights": _records(
            inputs.cells[[*inputs.variables, "respondents"]].assign(weight=w), {"weight": _round}
        ),
        "timings_s": timings,
    }
    return RankingResult(rows, weights, segment_ranks, summary, figures)


def _cell_codes(cells: pd.DataFrame, frame: pd.DataFrame, variables: list[str]) -> np.ndarray:
    if not variables:
        return np.zeros(len(frame), dtype=np.int64)
    index = pd.MultiIndex.from_frame(cells[variables].astype(object))
    codes = index.get_indexer(pd.MultiIndex.from_frame(frame[variables].astype(object)))
    if (codes < 0).any():
        raise RankingError("votes refer to a weighting cell without respondents (inputs changed during the run?)")
    return codes.astype(np.int64)


def cells_frame(frame: pd.DataFrame, variables: list[str], count: str | None = None) -> pd.DataFrame:
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


def unmet_targets(targets: pd.DataFrame, cells: pd.DataFrame) -> list[tuple[str, str]]:
    """(variable, category) of every target above zero that no respondent of the ranking belongs to:
    weighting cannot reach its share, so no ranking can be computed until someone from it answers or
    the target changes."""
    unmet = []
    for variable, category, target in targets[["variable", "category", "target"]].itertuples(index=False):
        if target > 0 and variable in cells and not (cells.loc[cells[variable] == category, "respondents"] > 0).any():
            unmet.append((str(variable), str(category)))
    return unmet


def default_targets(cells: pd.DataFrame) -> pd.DataFrame:
    """Equal share per segment that has respondents (DESIGN section 3)."""
    segments = sorted(pd.unique(cells["segment"]))
    return pd.DataFrame({"variable": "segment", "category": segments, "target": 1.0 / len(segments)})


def effective_targets(stored: pd.DataFrame, cells: pd.DataFrame, params: RunParams) -> tuple[pd.DataFrame, str]:
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
    targets = keep_not_stated(targets, cells)
    return targets.sort_values(["variable", "category"], ignore_index=True), source


def keep_not_stated(targets: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
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


def cells_of(cell_counts: pd.DataFrame, segment_key: np.ndarray, state_key: np.ndarray) -> np.ndarray:
    """The cell (row of `queries.respondent_cells`) of each (segment_key, state_key), through a
    table indexed by both keys."""
    keys = cell_counts[["segment_key", "state_key"]].to_numpy(dtype=np.int64)
    width = int(max(keys[:, 1].max(initial=0), state_key.max(initial=0))) + 1
    height = int(max(keys[:, 0].max(initial=0), segment_key.max(initial=0))) + 1
    lut = np.full(width * height, -1, dtype=np.int64)
    lut[keys[:, 0] * width + keys[:, 1]] = np.arange(len(keys))
    cell = lut[segment_key * width + state_key]
    if (cell < 0).any():
        raise RankingError("votes refer to a weighting cell without respondents (inputs changed during the run?)")
    return cell


def without_cells(cell_counts: pd.DataFrame, removed: pd.DataFrame) -> pd.DataFrame:
    """`queries.respondent_cells` less the respondents in ``removed`` (``segment_key, state_key,
    respondents``: flagged ones, `queries.flagged_cells`); cells left empty are dropped."""
    if len(removed) == 0:
        return cell_counts
    gone = removed.set_index(["segment_key", "state_key"])["respondents"]
    key = pd.MultiIndex.from_frame(cell_counts[["segment_key", "state_key"]])
    left = cell_counts["respondents"].to_numpy() - gone.reindex(key, fill_value=0).to_numpy()
    if (left < 0).any() or not gone.index.isin(key).all():
        raise RankingError("flagged respondents outside the ranking's cells (inputs changed during the run?)")
    return cell_counts.assign(respondents=left)[left > 0].reset_index(drop=True)


def without_tallies(tally: np.ndarray, removed: np.ndarray) -> np.ndarray:
    """`queries.tally_rows` less the contributions in ``removed`` (rows of the same shape: flagged
    respondents', `queries.flagged_tallies`); rows left without exposures or votes are dropped."""
    if len(removed) == 0:
        return tally
    signed = np.concatenate([tally, np.column_stack([removed[:, :3], -removed[:, 3:]])])
    summed = pd.DataFrame(signed).groupby([0, 1, 2], sort=False).sum().reset_index().to_numpy(dtype=np.int64)
    if (summed[:, 3:] < 0).any():
        raise RankingError("flagged respondents' votes exceed the tallies (inputs changed during the run?)")
    return summed[summed[:, 3] > 0]


def tally_stats(tally: np.ndarray, cell_counts: pd.DataFrame, method: str) -> pd.DataFrame:
    """`queries.tally_rows` as the statistics frame of `CellInputs`, sorted by (proposal, cell) as
    the file path's group-by sorts them (the sums then add in the same order: identical results)."""
    cell = cells_of(cell_counts, tally[:, 1], tally[:, 2])
    # Put the rows in (proposal, cell) order through a table of row numbers indexed by both: a
    # counting sort, linear in the rows (the database returns them in no useful order). The table's
    # filled slots, in order, give each row's proposal and cell without gathering them.
    group, ids = compute._factorize(tally[:, 0], "tallies.proposal_id")
    n_cells = len(cell_counts)
    slots = np.full(len(ids) * n_cells, -1, dtype=np.int64)
    slots[group * n_cells + cell] = np.arange(len(group))
    filled = np.flatnonzero(slots >= 0)
    if len(filled) != len(group):
        raise RankingError("a proposal has two tallies for one weighting cell")
    order = slots[filled]
    proposal = filled // n_cells
    columns = {"proposal_id": ids.to_numpy()[proposal], "cell": filled - proposal * n_cells}
    for j, col in enumerate(VALUES[kind_of(method)]):
        columns[col] = tally[:, 3 + j][order]
    return pd.DataFrame(columns, copy=False)  # fresh arrays: no need to copy them into one block


def vote_respondents(rows: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Each row's respondent as a position in ``ids``; rows come grouped by respondent, so each is
    looked up once, not per row."""
    first = np.flatnonzero(np.diff(rows[:, 0], prepend=np.int64(-1)) != 0)
    where = np.minimum(np.searchsorted(ids, rows[first, 0]), max(len(ids) - 1, 0))
    if len(rows) and not np.array_equal(ids[where], rows[first, 0]):
        raise RankingError("vote rows from respondents that are not among the ranking's respondents")
    return np.repeat(where, np.diff(np.append(first, len(rows))))


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


def canonical_clusters(stats: pd.DataFrame, respondent_ids: np.ndarray | pd.Series, number: np.ndarray) -> pd.DataFrame:
    """`pair_counts` rows (grouped by respondent in the order of ``respondent_ids``) relabelled with
    the canonical respondent numbers and put in their order, so that the computation sees the same
    rows in the same order however the respondents were labelled (bit-identical results)."""
    pos = pd.Index(respondent_ids).get_indexer(pd.Index(stats["respondent_id"]))
    counts = np.bincount(pos, minlength=len(number))
    idx = files.block_order(counts, np.argsort(number, kind="stable"))
    out = stats.iloc[idx].reset_index(drop=True)
    out["respondent_id"] = np.asarray(number, dtype=np.int64)[pos[idx]]
    return out


# --- file runs -----------------------------------------------------------------------------------------


@dataclass
class FileRun:
    rows: list[dict[str, Any]]
    fingerprint: str
    format2_fingerprint: str | None  # approval and rating: the inputs' format 2 fingerprint, as runs before format 3
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
    cells = cells_frame(rframe, variables)
    resp_cell = _cell_codes(cells, rframe, variables)
    cell_by_id = pd.Series(resp_cell, index=pd.Index(rframe["respondent_id"]))
    vframe = votes.frame
    vcell = cell_by_id.reindex(pd.Index(vframe["respondent_id"])).to_numpy(dtype=np.int64)
    method = votes.method
    kind = kind_of(method)
    if kind == "approval":
        g = pd.DataFrame({"proposal_id": vframe["proposal_id"].to_numpy(), "cell": vcell,
                          "value": vframe["value"].to_numpy(dtype=np.int64)})
        stats = g.groupby(["proposal_id", "cell"], sort=True).agg(
            exposures=("value", "size"), supporters=("value", "sum")).reset_index()
    elif kind == "rating":
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
        if col in ("cell", *VALUES[kind]) and stats[col].dtype.kind in "iu":
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
    RunParams(method=method).check()
    params.check()
    kind = kind_of(method)
    respondents = files.read_respondents(respondents_path)
    votes = files.read_votes(votes_path, method, respondents)
    targets = files.read_targets(targets_path, respondents) if targets_path is not None else None

    inputs, resp_cell = file_inputs(respondents, votes, targets)
    target_frame = targets.frame if targets is not None else None
    vframe = votes.frame
    vote_resp = pd.Index(respondents.frame["respondent_id"]).get_indexer(pd.Index(vframe["respondent_id"]))
    # Format 2 for every method: pairwise runs use it, and approval and rating runs stored before
    # format 3 can still be checked against the files (the command prints both).
    canon = files.canonical_fingerprint(
        inputs.cells, inputs.variables, resp_cell, vote_resp,
        vframe[votes.header[1]].to_numpy(), vframe[votes.header[2]].to_numpy(), votes.header, target_frame,
    )
    if kind == "pairwise":
        inputs.stats = canonical_clusters(inputs.stats, respondents.frame["respondent_id"], canon.number)
        fingerprint, earlier = canon.fingerprint, None
    else:
        fingerprint = files.statistics_fingerprint(inputs.cells, inputs.variables, inputs.stats, kind, target_frame)
        earlier = canon.fingerprint
    weights, _ = cell_weights(inputs.cells, inputs.variables, inputs.targets, params.cap)
    if kind == "pairwise" and params.ridge == 0:
        cell_by_id = pd.Series(resp_cell, index=pd.Index(respondents.frame["respondent_id"]))
        vote_w = weights.to_numpy()[cell_by_id.reindex(pd.Index(votes.frame["respondent_id"])).to_numpy()]
        _check_connected(votes, vote_w)
    result = compute_ranking(inputs, params)
    return FileRun(
        rows=result.rows,
        fingerprint=fingerprint,
        format2_fingerprint=earlier,
        respondent_ids=respondents.frame["respondent_id"],
        respondent_weights=result.cell_weights.to_numpy()[resp_cell],
        summary=result.summary,
        params=asdict(params),
    )

