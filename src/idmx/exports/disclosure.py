"""Statistical disclosure control for the public files that describe respondents: k-anonymity by local
recoding, and the residual risk figure the package states.

A *class* is a set of published records with equal values on the published attributes (the
quasi-identifiers: what someone who knows a respondent could match on, such as sector, state and how
many votes they cast). A file is k-anonymous when every class holds at least ``k`` respondents; the
*risk* of a table is the share of its respondents in classes smaller than ``k`` (0 when it is
k-anonymous).

`protect` generalises attributes one step at a time, only for the records whose class is still too
small (local recoding), in the order of a `Step` schedule: state to region, then vote counts to
wider bands, then rare sectors to "other", then each attribute to ``*`` (suppressed). Records whose
class is still too small after the last step are padded with enough records of the largest class
recoded the same way, or, when no class can spare them, suppressed. Attributes listed as ``fixed``
are never changed (the ranking's weighting variables must stay exact), so a class that only
they separate may stay below ``k``: the risk figure then says so.

Why not a library: pycanon and anjana (the maintained k-anonymity packages on PyPI) pin exact
versions of numpy 2.0 and pandas 2.3, which this project has moved past; the checks they would run
are one pandas ``groupby`` (`class_sizes`), so a dependency that would downgrade the stack buys
nothing here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "REGIONS",
    "SUPPRESSED",
    "Protection",
    "Step",
    "class_sizes",
    "protect",
    "pseudo_clusters",
    "region_of",
    "risk",
    "votes_band",
]

SUPPRESSED = "*"
NOT_STATED = "not_stated"

# Banco de México's four regions of its regional economic reports (Reporte sobre las Economías
# Regionales), by INEGI state code: an official grouping that users of Mexican statistics know.
REGIONS: dict[str, tuple[str, ...]] = {
    "norte": ("02", "05", "08", "19", "26", "28"),
    "centro_norte": ("01", "03", "06", "10", "14", "16", "18", "24", "25", "32"),
    "centro": ("09", "11", "13", "15", "17", "21", "22", "29"),
    "sur": ("04", "07", "12", "20", "23", "27", "30", "31"),
}
REGION_NAMES = {"norte": "Norte", "centro_norte": "Centro Norte", "centro": "Centro", "sur": "Sur"}
_REGION_OF_STATE = {state: region for region, states in REGIONS.items() for state in states}

# Bands of the number of votes (vote rows) a respondent cast, finest first.
VOTE_BANDS: tuple[tuple[tuple[int, int | None], ...], ...] = (
    ((1, 1), (2, 4), (5, 9), (10, 19), (20, 49), (50, 99), (100, None)),
    ((1, 9), (10, 49), (50, None)),
)


def region_of(state: str) -> str:
    """The region code of an INEGI state code (not stated stays not stated)."""
    if state == NOT_STATED:
        return NOT_STATED
    return _REGION_OF_STATE.get(state, SUPPRESSED)


def votes_band(counts: np.ndarray | Sequence[int], level: int = 0) -> np.ndarray:
    """Each count as its band's label ("2-4", "100+") at ``level`` (0 finest) of `VOTE_BANDS`."""
    counts = np.asarray(counts, dtype=np.int64)
    out = np.full(len(counts), SUPPRESSED, dtype=object)
    for low, high in VOTE_BANDS[level]:
        inside = (counts >= low) & (counts <= (high if high is not None else np.iinfo(np.int64).max))
        out[inside] = str(low) if high == low else (f"{low}+" if high is None else f"{low}-{high}")
    return out


def class_sizes(frame: pd.DataFrame, columns: Sequence[str], weight: np.ndarray | None = None) -> np.ndarray:
    """The number of respondents in each record's class (records weighted by ``weight``, e.g. the
    respondents of a cell; 1 each by default)."""
    if len(frame) == 0:
        return np.zeros(0, dtype=np.int64)
    w = np.ones(len(frame), dtype=np.int64) if weight is None else np.asarray(weight, dtype=np.int64)
    keys = frame[list(columns)].astype(str)
    return pd.Series(w, index=frame.index).groupby([keys[c] for c in columns], sort=False).transform("sum").to_numpy()


def risk(frame: pd.DataFrame, columns: Sequence[str], k: int, weight: np.ndarray | None = None) -> float:
    """Share of respondents in classes of fewer than ``k`` on ``columns`` (0.0 for no respondents)."""
    w = np.ones(len(frame), dtype=np.int64) if weight is None else np.asarray(weight, dtype=np.int64)
    total = int(w.sum())
    if total == 0:
        return 0.0
    small = class_sizes(frame, columns, w) < k
    return float(w[small].sum()) / total


@dataclass(frozen=True)
class Step:
    """Recode ``column`` of the records in too-small classes with ``recode`` (original values in,
    published values out)."""

    column: str
    recode: Callable[[pd.Series], pd.Series]


def suppress(column: str) -> Step:
    return Step(column, lambda values: pd.Series(SUPPRESSED, index=values.index, dtype=object))


@dataclass(frozen=True)
class Protection:
    """The published attributes (``frame``, same index as the input) and the figures the package states."""

    frame: pd.DataFrame
    k: int
    columns: tuple[str, ...]
    risk_before: float
    risk_after: float
    recoded: int  # respondents with at least one attribute generalised or suppressed
    suppressed: int  # respondents left out (no class could take them)
    kept: np.ndarray  # boolean mask of the input records that are published


def protect(
    original: pd.DataFrame,
    columns: Sequence[str],
    k: int,
    steps: Iterable[Step],
    *,
    fixed: Sequence[str] = (),
    weight: np.ndarray | None = None,
    may_suppress: bool = True,
) -> Protection:
    """k-anonymise ``original`` on ``columns`` (every value as text) by the ``steps`` schedule.

    ``fixed`` columns are part of the classes but never recoded. ``weight``: respondents per record
    (aggregated tables); with ``may_suppress`` False no record is left out (aggregates that must
    keep every respondent) and the residual risk says what is left.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    columns = list(columns)
    original = original[columns].astype(str).astype(object)
    w = np.ones(len(original), dtype=np.int64) if weight is None else np.asarray(weight, dtype=np.int64)
    before = risk(original, columns, k, w)
    frame = original.copy()
    for step in steps:
        if step.column in fixed:
            continue
        small = class_sizes(frame, columns, w) < k
        if not small.any():
            break
        # Records whose value is already coarser than this step would make it are left alone.
        source = original.loc[small, step.column]
        recoded = step.recode(source).astype(object)
        current = frame.loc[small, step.column]
        frame.loc[small, step.column] = current.where(current == SUPPRESSED, recoded)
    kept = np.ones(len(frame), dtype=bool)
    small = class_sizes(frame, columns, w) < k
    if small.any():
        frame, kept = _pad_or_suppress(frame, columns, fixed, w, k, small, may_suppress)
    after = risk(frame[kept], columns, k, w[kept])
    recoded = int(w[(frame != original).any(axis=1).to_numpy()].sum())
    return Protection(frame, k, tuple(columns), before, after, recoded, int(w[~kept].sum()), kept)


def _pad_or_suppress(frame: pd.DataFrame, columns: list[str], fixed: Sequence[str], w: np.ndarray, k: int,
                     small: np.ndarray, may_suppress: bool) -> tuple[pd.DataFrame, np.ndarray]:
    """The records still in too-small classes after every step: per group of ``fixed`` values, pool
    them into one class of suppressed values and fill it up to ``k`` from the largest class that can
    spare the records; if none can, leave them out (``may_suppress``) or keep them (risk > 0)."""
    frame = frame.copy()
    kept = np.ones(len(frame), dtype=bool)
    free = [c for c in columns if c not in fixed]
    groups = frame[list(fixed)].astype(str).agg("|".join, axis=1) if fixed else pd.Series("", index=frame.index)
    for _key, idx in pd.Series(np.arange(len(frame)), index=frame.index).groupby(groups.to_numpy()):
        positions = idx.to_numpy()
        lonely = positions[small[positions]]
        if len(lonely) == 0:
            continue
        frame.iloc[lonely, [frame.columns.get_loc(c) for c in free]] = SUPPRESSED
        while (need := k - _pooled(frame, free, positions, w)) > 0:
            donors = _donors(frame, columns, free, positions, w, k, need)
            if donors is None:
                if may_suppress:
                    everyone = positions[(frame.iloc[positions][free] == SUPPRESSED).all(axis=1).to_numpy()]
                    kept[everyone] = False
                break
            frame.iloc[donors, [frame.columns.get_loc(c) for c in free]] = SUPPRESSED
    return frame, kept


def _pooled(frame: pd.DataFrame, free: list[str], positions: np.ndarray, w: np.ndarray) -> int:
    """Respondents of the group whose free attributes are all suppressed (the pooled class)."""
    pooled = positions[(frame.iloc[positions][free] == SUPPRESSED).all(axis=1).to_numpy()]
    return int(w[pooled].sum())


def _donors(frame: pd.DataFrame, columns: list[str], free: list[str], positions: np.ndarray, w: np.ndarray,
            k: int, need: int) -> np.ndarray | None:
    """Records of the group to pool with the lonely ones: ``need`` respondents from a class that keeps
    ``k`` without them, or else the whole of the smallest class that is not pooled yet."""
    sub = frame.iloc[positions]
    pooled = (sub[free] == SUPPRESSED).all(axis=1).to_numpy()
    if not free or pooled.all():
        return None
    keys = sub[columns].astype(str).agg("\x1f".join, axis=1).to_numpy()
    sizes = pd.Series(w[positions]).groupby(keys).transform("sum").to_numpy()
    candidates = np.flatnonzero(~pooled)
    for j in candidates[np.argsort(-sizes[candidates], kind="stable")]:
        members = np.flatnonzero((keys == keys[j]) & ~pooled)
        taken = np.cumsum(w[positions[members]])
        enough = np.flatnonzero(taken >= need)
        if len(enough) and sizes[j] - taken[enough[0]] >= k:
            return positions[members[: enough[0] + 1]]
    smallest = candidates[np.argmin(sizes[candidates])]
    return positions[np.flatnonzero((keys == keys[smallest]) & ~pooled)]


def region_step(column: str = "state") -> Step:
    return Step(column, lambda values: values.map(region_of))


def band_step(column: str, counts_column: pd.Series, level: int) -> Step:
    """Recode a vote-count band column to ``level`` of `VOTE_BANDS` from the exact counts."""
    return Step(column, lambda values: pd.Series(votes_band(counts_column.loc[values.index].to_numpy(), level),
                                                 index=values.index, dtype=object))


def other_step(column: str, label: str = "other") -> Step:
    """Group rare categories: the records still in small classes go into one ``label`` category."""
    return Step(column, lambda values: values.where(values == NOT_STATED, label))


def pseudo_clusters(pooled: np.ndarray, group: np.ndarray, k: int) -> np.ndarray:
    """Each respondent's cluster (0..G-1) for clustered statistics published per cluster: a respondent
    alone, or, for the ``pooled`` ones (their published class is "pooled" within their ``group``, e.g.
    their weighting cell), a pseudo-cluster of at least ``k`` pooled respondents of the same group, so
    that no published cluster's rows are the votes of fewer than k people.

    A group with fewer than ``k`` pooled respondents (possible only when the group itself is that
    small) gives one cluster of all of them. Members are drawn by a fixed shuffle, not by order of
    arrival or number of votes, so a cluster's total says little about any member; the result
    depends only on the inputs (the same export gives the same files).
    """
    pooled = np.asarray(pooled, dtype=bool)
    group = np.asarray(group, dtype=np.int64)
    out = np.full(len(pooled), -1, dtype=np.int64)
    alone = np.flatnonzero(~pooled)
    out[alone] = np.arange(len(alone))
    next_id = len(alone)
    rng = np.random.default_rng(20_170_301)
    for g in np.unique(group[pooled]):
        members = rng.permutation(np.flatnonzero(pooled & (group == g)))
        for chunk in np.array_split(members, max(1, len(members) // k)):
            out[chunk] = next_id
            next_id += 1
    return out
