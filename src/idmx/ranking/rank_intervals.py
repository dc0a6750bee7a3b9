"""An interval on every rank: the range in which an item's position would fall (95 % by default) if
its true score were drawn from the uncertainty its interval expresses.

Each item's score is simulated ``DRAWS`` times from a split normal around its point estimate: below
it, a normal whose ``confidence`` quantile reaches ``ci_low``; above it, one that reaches ``ci_high``
(so asymmetric intervals, such as Wilson's near 0 or 1, stay asymmetric). In every draw the items are
ranked by their simulated scores (1 = best); an item's rank interval is the central ``confidence``
range of its ranks over the draws. Items without a score (nobody voted) rank anywhere: 1..n.

This is the rank the items would have if their true scores were known, which is what people quote.
The published rank itself orders by the interval's lower end by default (`statistics.rank`), so a
poorly measured item usually sits near the bottom of its rank interval, a well-measured one near the
middle.

Deterministic: the generator is seeded with a constant, and the draws depend only on the scores and
intervals, so the database and `idmx rank` on the exported files give the same ranks and intervals.
Vectorised over draws and items: per block of draws, one argsort of each draw inverted by one
scatter, then a partition (not a sort) for the two quantiles; memory is the ``DRAWS x n`` int32 ranks
(20 MB for 5,000 items) plus one block of draws.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

import numpy as np
from scipy import special

__all__ = ["DRAWS", "SEED", "for_results", "rank_intervals"]

DRAWS = 1000
SEED = 20270322
_BLOCK = 100  # draws per block: bounds the float temporaries to 100 x n


def rank_intervals(score: np.ndarray, ci_low: np.ndarray, ci_high: np.ndarray, confidence: float = 0.95,
                   draws: int = DRAWS, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) rank of each item, 1-based and inclusive, from its score and interval."""
    score = np.asarray(score, dtype=float)
    n = len(score)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    z = special.ndtri(0.5 + confidence / 2)  # norm.ppf without importing scipy.stats (40 MB)
    known = np.isfinite(score)
    center = np.where(known, score, 0.0)
    below = np.where(known, np.maximum(center - np.nan_to_num(np.asarray(ci_low, dtype=float), nan=0.0), 0.0) / z, 0.0)
    above = np.where(known, np.maximum(np.nan_to_num(np.asarray(ci_high, dtype=float), nan=0.0) - center, 0.0) / z, 0.0)
    rng = np.random.default_rng(seed)
    ranks = np.empty((draws, n), dtype=np.int32)
    for lo in range(0, draws, _BLOCK):
        hi = min(draws, lo + _BLOCK)
        e = rng.standard_normal((hi - lo, n))
        simulated = center + np.where(e < 0, below, above) * e
        # Items without a score fall anywhere: a uniform random key, below or above everything scored.
        if not known.all():
            simulated[:, ~known] = rng.uniform(-1.0, 1.0, size=(hi - lo, int((~known).sum()))) * 1e300
        # Each draw's order, inverted into every item's rank (1 = highest simulated score).
        order = np.argsort(-simulated, axis=1)
        ranks[np.arange(lo, hi)[:, None], order] = np.arange(1, n + 1, dtype=np.int32)
    tail = (1 - confidence) / 2
    k_low = int(np.floor(tail * (draws - 1)))
    k_high = int(np.ceil((1 - tail) * (draws - 1)))
    # Two order statistics per item: a partition, not a sort, of each item's draws.
    part = np.partition(ranks, [k_low, k_high], axis=0)
    low, high = part[k_low], part[k_high]
    return low.astype(np.int64), high.astype(np.int64)


_CACHE: OrderedDict[bytes, dict[Any, tuple[int, int]]] = OrderedDict()
_CACHE_SIZE = 16


def for_results(results: list[dict[str, Any]], confidence: float = 0.95) -> dict[Any, tuple[int, int]]:
    """``{proposal_id: (low, high)}`` for a run's result rows (score, ci_low, ci_high; None = missing).

    Runs are immutable and a national one takes about a second, so results pages and the API keep the
    last few answers, keyed by a digest of what the intervals depend on (not by run id, which a
    restored or rebuilt database may reuse)."""
    if not results:
        return {}
    ids = [row["proposal_id"] for row in results]
    table = np.array([[_number(row.get(c)) for c in ("score", "ci_low", "ci_high")] for row in results], dtype=float)
    key = hashlib.sha256(table.tobytes() + repr((ids, confidence)).encode()).digest()
    found = _CACHE.get(key)
    if found is None:
        low, high = rank_intervals(table[:, 0], table[:, 1], table[:, 2], confidence)
        found = dict(zip(ids, zip(low.tolist(), high.tolist())))
        _CACHE[key] = found
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return found


def _number(x: Any) -> float:
    return float("nan") if x is None or x == "" else float(x)
