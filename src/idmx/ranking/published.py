"""Rankings from published per-cell statistics: what the open-data package publishes instead of vote rows
tied to respondents, and what `idmx rank --cells C.csv --statistics S.csv` reads.

Files (UTF-8, comma separated, one header row; a byte-order mark is tolerated):

* ``cells.csv``: ``cell,<variables...>,respondents``: one row per weighting cell (every combination
  of the weighting variables' published categories) with its number of respondents, sorted by the
  categories; ``cell`` numbers them 0..C-1 in that order.
* ``statistics.csv``: the sufficient statistics of the vote mode per proposal and cell: approval
  ``proposal_id,cell,exposures,supporters``, rating ``proposal_id,cell,n,sum,sumsq``; pairwise, whose
  intervals are clustered, ``cluster_id,cell,winner_id,loser_id,wins`` per cluster (numbered by
  content, as `files.canonical_fingerprint` numbers respondents) and ordered pair. A cluster is one
  respondent, or a pseudo-cluster pooling at least k respondents of the cell whose number of
  comparisons would single them out: the strengths do not depend on the clustering, the
  cluster-robust intervals are those of the published clusters.

The export (`idmx.exports.services`) and the reader build `CellInputs` through the same functions
(`statistics_inputs`, `cluster_inputs`), so the published ranking is bit for bit what `idmx rank`
computes from the files, and both print the same fingerprint (format 3 for approval and rating, 2 for
pairwise, over the published cells).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from idmx.ranking import files
from idmx.ranking.files import InputFileError
from idmx.ranking.pipeline import VALUES, CellInputs, FileRun, RunParams, compute_ranking, kind_of, pair_counts
from idmx.ranking.pipeline import canonical_clusters as _relabel
from idmx.statistics import NOT_STATED

__all__ = [
    "CLUSTER_COLUMNS",
    "cell_lines",
    "cluster_inputs",
    "rank_published",
    "statistics_columns",
    "statistics_inputs",
    "statistics_lines",
]

CLUSTER_COLUMNS = ("cluster_id", "cell", "winner_id", "loser_id", "wins")
_IN_STATS = {"cluster_id": "respondent_id"}  # the file's name -> the pipeline's (a cluster counts as one)


def statistics_columns(method: str) -> tuple[str, ...]:
    kind = kind_of(method)
    if kind == "pairwise":
        return CLUSTER_COLUMNS
    return ("proposal_id", "cell", *VALUES[kind])


def _targets(targets: pd.DataFrame | None) -> pd.DataFrame | None:
    if targets is None or len(targets) == 0:
        return None
    out = pd.DataFrame({"variable": targets["variable"].astype(object).to_numpy(),
                        "category": targets["category"].astype(object).to_numpy(),
                        "target": targets["target"].to_numpy(dtype=float)})
    return out.sort_values(["variable", "category"], ignore_index=True, kind="stable")


def _cells(cells: pd.DataFrame, variables: list[str]) -> pd.DataFrame:
    out = pd.DataFrame({v: cells[v].astype(str).to_numpy(dtype=object) for v in variables})
    out["respondents"] = cells["respondents"].to_numpy(dtype=np.int64)
    return out


def statistics_inputs(method: str, variables: list[str], cells: pd.DataFrame, stats: pd.DataFrame,
                      targets: pd.DataFrame | None) -> tuple[CellInputs, str]:
    """Approval and rating: cells sorted by category and statistics per (proposal, cell) -> inputs and
    their format 3 fingerprint."""
    cells = _cells(cells, variables)
    columns = ["proposal_id", "cell", *VALUES[kind_of(method)]]
    frame = pd.DataFrame({c: stats[c].to_numpy(dtype=np.int64) for c in columns})
    frame = frame.sort_values(["proposal_id", "cell"], ignore_index=True, kind="stable")
    targets = _targets(targets)
    fingerprint = files.statistics_fingerprint(cells, variables, frame, method, targets)
    return CellInputs(method, variables, cells, frame, targets), fingerprint


def cluster_inputs(method: str, variables: list[str], cells: pd.DataFrame, respondent_cell: np.ndarray,
                   rows: np.ndarray, targets: pd.DataFrame | None) -> tuple[CellInputs, str, np.ndarray]:
    """Pairwise: each cluster's cell (clusters, i.e. respondents or the package's pseudo-clusters, as
    positions 0..N-1) and the comparisons ``rows`` (cluster position, winner, loser; one row per
    comparison) -> inputs, their format 2 fingerprint and each cluster's canonical number."""
    cells = _cells(cells, variables)
    targets = _targets(targets)
    rows = np.asarray(rows, dtype=np.int64)
    rows = rows[np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))] if len(rows) else rows.reshape(0, 3)
    respondent_cell = np.asarray(respondent_cell, dtype=np.int64)
    header = ("respondent_id", "winner_id", "loser_id")
    canon = files.canonical_fingerprint(cells, variables, respondent_cell, rows[:, 0], rows[:, 1], rows[:, 2],
                                        header, targets)
    positions = np.arange(len(respondent_cell), dtype=np.int64)
    stats = _relabel(pair_counts(rows[:, 0], rows[:, 1], rows[:, 2], positions, respondent_cell), positions, canon.number)
    return CellInputs(method, variables, cells, stats.reset_index(drop=True), targets), canon.fingerprint, canon.number


# --- writing ---------------------------------------------------------------------------------------------


def cell_lines(cells: pd.DataFrame, variables: list[str]) -> list[tuple]:
    """Rows of cells.csv (without the header)."""
    return [(i, *values) for i, values in enumerate(cells[[*variables, "respondents"]].itertuples(index=False))]


def statistics_lines(inputs: CellInputs) -> np.ndarray:
    """Rows of statistics.csv as one int64 array in the file's column order."""
    columns = statistics_columns(inputs.method)
    return np.column_stack([inputs.stats[_IN_STATS.get(c, c)].to_numpy(dtype=np.int64) for c in columns]) \
        if len(inputs.stats) \
        else np.zeros((0, len(columns)), dtype=np.int64)


# --- reading ---------------------------------------------------------------------------------------------


def _integers(frame: pd.DataFrame, label: str, columns: list[str]) -> dict[str, np.ndarray]:
    out = {}
    for col in columns:
        values = frame[col]
        ok = values.str.fullmatch(r"0|[1-9]\d{0,17}").to_numpy(dtype=bool)
        if not ok.all():
            i = int(np.argmax(~ok))
            raise InputFileError(label, f"{values.iloc[i]!r} is not a whole number >= 0",
                                 line=int(frame["_line"].iloc[i]), column=col)
        out[col] = values.to_numpy(dtype=np.int64) if len(values) else np.zeros(0, dtype=np.int64)
    return out


def read_cells(path: str | Path, label: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    path = Path(path)
    label = label or str(path)
    frame = files._read(path, label, ["cell", "respondents"])
    variables = sorted(c for c in frame.columns if c not in ("cell", "respondents", "_line"))
    if len(frame) == 0:
        raise InputFileError(label, "no cells (the file has only a header)", line=2)
    numbers = _integers(frame, label, ["cell", "respondents"])
    expected = np.arange(len(frame))
    if not np.array_equal(numbers["cell"], expected):
        i = int(np.argmax(numbers["cell"] != expected))
        raise InputFileError(label, f"cells must be numbered 0, 1, 2 ... in order (expected {i})",
                             line=int(frame["_line"].iloc[i]), column="cell")
    cells = pd.DataFrame({v: frame[v].mask(frame[v] == "", NOT_STATED).to_numpy(dtype=object) for v in variables})
    cells["respondents"] = numbers["respondents"]
    cells["_line"] = frame["_line"].to_numpy()
    order = cells.sort_values(variables, kind="stable").index.to_numpy() if variables else expected
    if not np.array_equal(order, expected) or (variables and cells.duplicated(variables).any()):
        raise InputFileError(label, "cells must be listed once each, sorted by their categories")
    return cells, variables


def read_statistics(path: str | Path, method: str, cells: pd.DataFrame, label: str | None = None) -> pd.DataFrame:
    path = Path(path)
    label = label or str(path)
    columns = list(statistics_columns(method))
    frame = files._read(path, label, columns)
    if len(frame) == 0:
        raise InputFileError(label, "no statistics (the file has only a header)", line=2)
    numbers = _integers(frame, label, columns)
    outside = numbers["cell"] >= len(cells)
    if outside.any():
        i = int(np.argmax(outside))
        raise InputFileError(label, f"cell {numbers['cell'][i]} is not in the cells file",
                             line=int(frame["_line"].iloc[i]), column="cell")
    out = pd.DataFrame(numbers)
    out["_line"] = frame["_line"].to_numpy()
    return out


def rank_published(cells_path: str | Path, statistics_path: str | Path, method: str,
                   targets_path: str | Path | None = None, params: RunParams | None = None) -> FileRun:
    """`idmx rank --cells --statistics`: the package's ranking from its published statistics."""
    params = params or RunParams(method=method)
    RunParams(method=method).check()
    params.check()
    cells, variables = read_cells(cells_path)
    stats = read_statistics(statistics_path, method, cells)
    targets = None
    if targets_path is not None:
        holder = files.RespondentsFile(cells, variables, str(cells_path))
        read = files.read_targets(targets_path, holder)
        targets = read.frame if read is not None else None
    if kind_of(method) == "pairwise":
        cluster, first = np.unique(stats["cluster_id"].to_numpy(), return_index=True)
        position = np.searchsorted(cluster, stats["cluster_id"].to_numpy())
        cluster_cell = stats["cell"].to_numpy()[first]
        if not np.array_equal(cluster_cell[position], stats["cell"].to_numpy()):
            raise InputFileError(str(statistics_path), "a cluster's rows name two cells", column="cell")
        wins = stats["wins"].to_numpy()
        rows = np.column_stack([np.repeat(position, wins), np.repeat(stats["winner_id"].to_numpy(), wins),
                                np.repeat(stats["loser_id"].to_numpy(), wins)])
        inputs, fingerprint, _number = cluster_inputs(method, variables, cells, cluster_cell, rows, targets)
    else:
        if stats.duplicated(["proposal_id", "cell"]).any():
            raise InputFileError(str(statistics_path), "one row per proposal and cell, please")
        inputs, fingerprint = statistics_inputs(method, variables, cells, stats, targets)
    result = compute_ranking(inputs, params, segments=False)
    return FileRun(rows=result.rows, fingerprint=fingerprint, format2_fingerprint=None,
                   respondent_ids=pd.Series(dtype=np.int64), respondent_weights=np.zeros(0),
                   summary=result.summary, params=asdict(params))
