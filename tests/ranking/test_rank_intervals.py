"""Rank intervals: hand-checkable cases, determinism, and coverage of the true rank over synthetic
consultations whose true scores are known."""

from __future__ import annotations

import time

import numpy as np
import pytest

from idmx.ranking import files
from idmx.ranking.rank_intervals import for_results, rank_intervals


def test_hand_checkable_cases():
    # Far apart and precise: every rank is certain.
    low, high = rank_intervals(np.array([0.9, 0.5, 0.1]), np.array([0.89, 0.49, 0.09]), np.array([0.91, 0.51, 0.11]))
    assert low.tolist() == [1, 2, 3] and high.tolist() == [1, 2, 3]
    # Two equal, overlapping items at the top: each is first or second; the third stays third.
    low, high = rank_intervals(np.array([0.6, 0.6, 0.1]), np.array([0.5, 0.5, 0.09]), np.array([0.7, 0.7, 0.11]))
    assert low.tolist() == [1, 1, 3] and high.tolist() == [2, 2, 3]
    # No score (nobody voted): anywhere from first to last.
    low, high = rank_intervals(np.array([0.9, np.nan, 0.1]), np.array([0.89, 0.0, 0.09]), np.array([0.91, 1.0, 0.11]))
    assert (low[1], high[1]) == (1, 3) and low[0] == 1 and high[2] == 3
    assert rank_intervals(np.zeros(0), np.zeros(0), np.zeros(0))[0].tolist() == []


def test_asymmetric_intervals_stay_asymmetric():
    # B's interval reaches far up but not down: B can overtake A, but C (just below B's point) rarely
    # gets past B.
    score = np.array([0.50, 0.45, 0.44])
    low, high = rank_intervals(score, np.array([0.49, 0.449, 0.3]), np.array([0.51, 0.70, 0.441]))
    assert low.tolist() == [1, 1, 3] and high.tolist() == [2, 2, 3]


def test_deterministic_and_in_ranking_csv():
    rows = [{"rank": i + 1, "proposal_id": 10 + i, "score": s, "ci_low": s - 0.1, "ci_high": s + 0.1, "n_eff": 30.0,
             "n_votes": 30} for i, s in enumerate([0.8, 0.75, 0.5, 0.2])]
    assert for_results(rows) == for_results([dict(r) for r in rows])
    text = files.render_ranking(rows)
    header, first, *_rest = text.splitlines()
    assert header.endswith(",rank_low,rank_high")
    low, high = for_results(rows)[10]
    assert first.endswith(f",{low},{high}") and low == 1 and high == 2


def _coverage(rng: np.random.Generator, n: int, confidence: float) -> float:
    """One synthetic consultation: true approval shares, each estimated from its own number of votes
    with a Wald interval; the share of items whose true rank lies inside its rank interval."""
    truth = rng.beta(2, 5, size=n)
    votes = rng.integers(30, 400, size=n)
    observed = rng.binomial(votes, truth) / votes
    z = 1.959963984540054 if confidence == 0.95 else 1.6448536269514722
    half = z * np.sqrt(np.maximum(observed * (1 - observed), 1e-4) / votes)
    low, high = rank_intervals(observed, observed - half, observed + half, confidence)
    true_rank = np.empty(n, dtype=np.int64)
    true_rank[np.argsort(-truth, kind="stable")] = np.arange(1, n + 1)
    return float(((true_rank >= low) & (true_rank <= high)).mean())


@pytest.mark.parametrize("confidence", [0.95, 0.9])
def test_true_ranks_are_covered_in_simulation(confidence: float):
    rng = np.random.default_rng(2027)
    coverage = np.mean([_coverage(rng, 200, confidence) for _ in range(20)])
    # Each interval is about its own item's rank; the simulated scores scatter around the estimates
    # rather than the truth, so coverage is close to, not exactly, the nominal level (measured: 0.947
    # at 95 %, 0.899 at 90 %).
    assert abs(coverage - confidence) < 0.02, coverage


def test_national_scale():
    """5,000 proposals (the national consultation): every interval well formed; the time is printed (the
    worker pays it once per run; benchmarks, not tests, hold speed targets)."""
    rng = np.random.default_rng(5)
    score = rng.uniform(0.05, 0.95, 5000)
    half = rng.uniform(0.005, 0.08, 5000)
    t = time.perf_counter()
    low, high = rank_intervals(score, score - half, score + half)
    seconds = time.perf_counter() - t
    print(f"\nrank intervals of 5,000 items: {seconds:.2f} s")
    assert (low <= high).all() and low.min() >= 1 and high.max() <= 5000
