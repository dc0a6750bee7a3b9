"""Tests of idmx.statistics against published results, hand computations and invariants."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idmx import statistics as c
from idmx.statistics import (
    RankingError,
    approval_scores,
    approval_scores_from_votes,
    approval_stats_from_votes,
    bradley_terry,
    design_effect,
    kish_neff,
    per_segment,
    poststratify,
    rake,
    rank,
    rating_scores,
    rating_scores_from_votes,
    rating_stats_from_votes,
    wilson_interval,
)

PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def unit_cell() -> pd.Series:
    return pd.Series({"all": 1.0})


# ============================================================================================
# Published references
# ============================================================================================


def test_wilson_matches_newcombe_1998_table_i():
    """Newcombe RG (1998) "Two-sided confidence intervals for the single proportion: comparison of
    seven methods", Statistics in Medicine 17:857-872, Table I, method 3 (Wilson score, no continuity
    correction), 95% intervals printed to 4 decimals. Unit weights, so n_eff = n."""
    published = {  # (successes, n): (lower, upper)
        (81, 263): (0.2553, 0.3662),
        (15, 148): (0.0624, 0.1605),
        (0, 20): (0.0000, 0.1611),
        (1, 29): (0.0061, 0.1718),
    }
    stats = pd.DataFrame(
        [(i, "all", n, x) for i, (x, n) in enumerate(published)],
        columns=["proposal_id", "cell", "exposures", "supporters"],
    )
    out = approval_scores(stats, unit_cell()).set_index("proposal_id")
    for i, ((x, n), (lo, hi)) in enumerate(published.items()):
        assert out.loc[i, "n_eff"] == pytest.approx(n, abs=1e-12)
        assert out.loc[i, "score"] == pytest.approx(x / n, abs=1e-15)
        # printed to 4 decimals: agreement to within rounding (<= 5e-5) is agreement to 1e-4
        assert abs(out.loc[i, "ci_low"] - lo) < 5.0001e-5
        assert abs(out.loc[i, "ci_high"] - hi) < 5.0001e-5
    low, high = wilson_interval([81 / 263, 0.0], [263, 20])
    assert low[0] == pytest.approx(0.2553, abs=5e-5) and high[1] == pytest.approx(0.1611, abs=5e-5)


# Student's sleep data (Student 1908, Biometrika 6:1-25; R datasets::sleep): extra hours of sleep
# of 10 patients under drug 2 minus drug 1. R's paired t-test on it,
#   with(sleep, t.test(extra[group == 1], extra[group == 2], paired = TRUE))
# (the example in R's ?sleep help page), prints "mean of the differences -1.58" and
# "95 percent confidence interval: -2.4598858 -0.7001142"; for drug 2 minus drug 1 the signs flip.
SLEEP_DIFFS = [1.2, 2.4, 1.3, 1.3, 0.0, 1.0, 1.8, 0.8, 4.6, 1.4]


def test_rating_t_interval_matches_r_paired_t_test_on_sleep_data():
    scale = (0.0, 5.0)  # the differences lie in 0..4.6; the default 1..5 rating scale would reject 0
    votes = pd.DataFrame({"respondent_id": range(10), "proposal_id": "p", "value": SLEEP_DIFFS})
    weights = pd.Series(1.0, index=pd.RangeIndex(10, name="respondent_id"))
    from_votes = rating_scores_from_votes(votes, weights, scale=scale).iloc[0]
    stats = pd.DataFrame(
        {
            "proposal_id": ["p"],
            "cell": ["all"],
            "n": [10],
            "sum": [sum(SLEEP_DIFFS)],
            "sumsq": [sum(x * x for x in SLEEP_DIFFS)],
        }
    )
    from_stats = rating_scores(stats, unit_cell(), scale=scale).iloc[0]
    for row in (from_votes, from_stats):
        assert row["score"] == pytest.approx(1.58, abs=1e-12)
        assert row["ci_low"] == pytest.approx(0.7001142, abs=1e-7)
        assert row["ci_high"] == pytest.approx(2.4598858, abs=1e-7)
        assert row["n_eff"] == pytest.approx(10) and row["n_votes"] == 10


# Agresti A (2002) Categorical Data Analysis, 2nd ed., Wiley, Section 10.6 (pp. 436-438, Tables 10.10
# and 10.11): 1987 American League East, 13 games between each pair of teams. Row team's wins over
# the column team. The same totals follow from BradleyTerry2's `baseball` data (home + away wins).
TEAMS = ["Milwaukee", "Detroit", "Toronto", "New York", "Boston", "Cleveland", "Baltimore"]
BASEBALL = [
    [0, 7, 9, 7, 7, 9, 11],
    [6, 0, 7, 5, 11, 9, 9],
    [4, 6, 0, 7, 7, 8, 12],
    [6, 8, 6, 0, 6, 7, 10],
    [6, 2, 6, 7, 0, 7, 12],
    [4, 4, 5, 6, 6, 0, 6],
    [2, 4, 1, 3, 1, 7, 0],
]
# Fitted log-strengths with Baltimore = 0 as given in the brief for Agresti's table.
AGRESTI_THETA = {
    "Milwaukee": 1.5814,
    "Detroit": 1.4364,
    "Toronto": 1.2945,
    "New York": 1.2483,
    "Boston": 1.1077,
    "Cleveland": 0.6839,
    "Baltimore": 0.0,
}


def baseball_wins() -> pd.DataFrame:
    rows = [
        (TEAMS[i], TEAMS[j], BASEBALL[i][j]) for i in range(7) for j in range(7) if i != j
    ]
    return pd.DataFrame(rows, columns=["winner_id", "loser_id", "weight"])


def test_bradley_terry_matches_agresti_baseball():
    for i in range(7):
        for j in range(i + 1, 7):
            assert BASEBALL[i][j] + BASEBALL[j][i] == 13
    out = bradley_terry(baseball_wins(), ridge=0).set_index("proposal_id")
    diff = out["theta"] - out.loc["Baltimore", "theta"]
    for team, ref in AGRESTI_THETA.items():
        if team == "New York":
            # Our fit gives 1.247618; an independent IRLS binomial-logit fit and scipy BFGS on the
            # same 21 pairs agree to 1e-6 (see test_bradley_terry_matches_independent_logit_fit), and
            # BradleyTerry2's own test only checks 1.25 at 2 decimals. The 1.2483 in the reference
            # list differs by 6.8e-4: probably a transcription slip; kept, checked at 1e-3.
            assert abs(diff[team] - ref) < 1e-3
        else:
            assert abs(diff[team] - ref) < 1e-4, team
    assert out["theta"].sum() == pytest.approx(0, abs=1e-10)
    assert (out["n_votes"] == 78).all()  # 6 opponents x 13 games


def _irls_reference_fit():
    """Independent fit: binomial logistic regression of the 21 pairs on +-1 team indicators with
    Baltimore as the reference (Agresti's parametrisation), by iteratively reweighted least squares."""
    pairs = [(i, j) for i in range(7) for j in range(i + 1, 7)]
    X = np.zeros((21, 6))
    y = np.zeros(21)
    n = np.zeros(21)
    for k, (i, j) in enumerate(pairs):
        if i < 6:
            X[k, i] = 1
        if j < 6:
            X[k, j] = -1
        y[k], n[k] = BASEBALL[i][j], BASEBALL[i][j] + BASEBALL[j][i]
    beta = np.zeros(6)
    for _ in range(50):
        p = 1 / (1 + np.exp(-X @ beta))
        info = X.T @ ((n * p * (1 - p))[:, None] * X)
        beta = beta + np.linalg.solve(info, X.T @ (y - n * p))
    p = 1 / (1 + np.exp(-X @ beta))
    cov = np.linalg.inv(X.T @ ((n * p * (1 - p))[:, None] * X))
    return beta, cov


def test_bradley_terry_matches_independent_logit_fit():
    beta, cov = _irls_reference_fit()
    out = bradley_terry(baseball_wins(), ridge=0).set_index("proposal_id").loc[TEAMS]
    np.testing.assert_allclose(out["theta"] - out["theta"].iloc[-1], np.append(beta, 0), atol=1e-8)
    # model-based SE of the mean-zero theta: theta = L (beta, 0) with L = I - J/7
    full = np.zeros((7, 7))
    full[:6, :6] = cov
    L = np.eye(7) - 1 / 7
    np.testing.assert_allclose(out["theta_se"], np.sqrt(np.diag(L @ full @ L.T)), rtol=1e-7)
    # Agresti: standard errors of the contrasts with Baltimore are "about 0.3"
    assert np.allclose(np.round(np.sqrt(np.diag(cov)), 1), 0.3)


# ============================================================================================
# Weights
# ============================================================================================


def test_poststratify_hand_example_and_total_targets():
    resp = pd.DataFrame({"respondent_id": range(100), "segment": ["a"] * 50 + ["b"] * 30 + ["c"] * 20})
    w = poststratify(resp)  # equal thirds: (1/3) / (50/100) = 2/3, (1/3)/(0.3) = 10/9, (1/3)/(0.2) = 5/3
    assert w.index.name == "respondent_id" and w.sum() == pytest.approx(100)
    assert w.iloc[0] == pytest.approx(2 / 3) and w.iloc[50] == pytest.approx(10 / 9) and w.iloc[99] == pytest.approx(5 / 3)
    shares = pd.DataFrame({"variable": "segment", "category": ["a", "b", "c"], "target": [0.5, 0.25, 0.25]})
    totals = shares.assign(target=shares["target"] * 1_234_567)
    pd.testing.assert_series_equal(poststratify(resp, shares), poststratify(resp, totals), rtol=1e-12)
    assert poststratify(resp, shares).iloc[99] == pytest.approx(0.25 / 0.2)


def test_poststratify_not_stated_and_errors():
    resp = pd.DataFrame({"respondent_id": [1, 2, 3, 4], "segment": ["a", None, "  ", "a"]})
    w = poststratify(resp)  # a: 2 respondents, not_stated: 2 -> equal halves -> all weights 1
    np.testing.assert_allclose(w, 1.0)
    tg = pd.DataFrame({"variable": "segment", "category": ["a", "b", "not_stated"], "target": [1, 1, 1]})
    with pytest.raises(RankingError, match=r"'b'.*segment.*no respondents"):
        poststratify(resp, tg)
    tg2 = pd.DataFrame({"variable": "segment", "category": ["a"], "target": [1.0]})
    with pytest.raises(RankingError, match=r"not_stated.*absent from"):
        poststratify(resp, tg2)
    with pytest.raises(RankingError, match="unique"):
        poststratify(pd.DataFrame({"respondent_id": [1, 1], "segment": ["a", "b"]}))
    with pytest.raises(RankingError, match="missing column"):
        poststratify(pd.DataFrame({"respondent_id": [1]}))
    assert issubclass(RankingError, ValueError)


def test_rake_hand_computed_2x2():
    """Sample counts (rows A1, A2; columns B1, B2) = [[30, 20], [10, 40]], n = 100; targets A: 40/60,
    B: 50/50. IPF keeps the sample's cross-product ratio (Bishop, Fienberg & Holland 1975, Discrete
    Multivariate Analysis, ch. 3): 30*40 / (20*10) = 6. The raked table [[x, 40-x], [50-x, 10+x]]
    therefore solves x (10 + x) = 6 (40 - x)(50 - x), i.e. x² - 110x + 2400 = 0, x = 30 (80 is
    infeasible): table [[30, 10], [20, 40]], so the cell weights are 30/30 = 1, 10/20 = 0.5,
    20/10 = 2, 40/40 = 1 (sum 30 + 10 + 20 + 40 = 100 = n)."""
    cells = [("A1", "B1", 30), ("A1", "B2", 20), ("A2", "B1", 10), ("A2", "B2", 40)]
    a, b = zip(*[(x, y) for x, y, k in cells for _ in range(k)])
    resp = pd.DataFrame({"respondent_id": range(100), "A": a, "B": b})
    targets = pd.DataFrame(
        {"variable": ["A", "A", "B", "B"], "category": ["A1", "A2", "B1", "B2"], "target": [40, 60, 0.5, 0.5]}
    )
    res = rake(resp, targets, tol=1e-12, max_iter=1000)
    assert res.converged and res.unmet == []
    expected = {("A1", "B1"): 1.0, ("A1", "B2"): 0.5, ("A2", "B1"): 2.0, ("A2", "B2"): 1.0}
    got = res.weights.groupby([resp["A"].to_numpy(), resp["B"].to_numpy()]).agg(["min", "max"])
    for key, wt in expected.items():
        assert got.loc[key, "min"] == pytest.approx(wt, abs=1e-9)
        assert got.loc[key, "max"] == pytest.approx(wt, abs=1e-9)
    assert res.weights.sum() == pytest.approx(100)
    sumsq = 30 * 1 + 20 * 0.25 + 10 * 4 + 40 * 1
    assert res.n_eff == pytest.approx(100**2 / sumsq, rel=1e-9)
    assert res.deff == pytest.approx(sumsq / 100, rel=1e-9)
    cell_tbl = res.cells.set_index(["A", "B"])
    assert cell_tbl.loc[("A1", "B2"), "respondents"] == 20
    assert cell_tbl.loc[("A1", "B2"), "weight"] == pytest.approx(0.5, abs=1e-9)


def test_rake_one_variable_is_poststratification():
    rng = np.random.default_rng(3)
    resp = pd.DataFrame({"respondent_id": range(300), "segment": rng.choice(["a", "b", "c"], 300)})
    tg = pd.DataFrame({"variable": "segment", "category": ["a", "b", "c"], "target": [0.2, 0.3, 0.5]})
    res = rake(resp, tg)
    assert res.iterations == 1 and res.converged
    pd.testing.assert_series_equal(res.weights, poststratify(resp, tg), rtol=1e-12)


def test_rake_inconsistent_margins_raise_or_report_with_cap():
    # Only the diagonal cells exist, so A1's share must equal B1's: targets 0.3 vs 0.6 cannot both hold.
    resp = pd.DataFrame({"respondent_id": range(4), "A": ["x", "x", "y", "y"], "B": ["p", "p", "q", "q"]})
    tg = pd.DataFrame({"variable": ["A", "A", "B", "B"], "category": ["x", "y", "p", "q"], "target": [0.3, 0.7, 0.6, 0.4]})
    with pytest.raises(RankingError, match=r"did not converge within max_iter=20.*discrepancy"):
        rake(resp, tg, max_iter=20)
    res = rake(resp, tg, max_iter=20, cap=5)
    assert not res.converged and len(res.unmet) >= 1 and "target share" in res.unmet[0]


def test_rake_cap_trims_and_reports_unmet():
    rng = np.random.default_rng(7)
    n = 2000
    seg = rng.choice(["a", "b", "c"], n, p=[0.8, 0.15, 0.05])
    state = rng.choice(["s1", "s2", "s3", "s4"], n)
    resp = pd.DataFrame({"respondent_id": range(n), "segment": seg, "state": state})
    tg = pd.concat(
        [
            pd.DataFrame({"variable": "segment", "category": ["a", "b", "c"], "target": 1 / 3}),
            pd.DataFrame({"variable": "state", "category": ["s1", "s2", "s3", "s4"], "target": [0.4, 0.3, 0.2, 0.1]}),
        ]
    )
    free = rake(resp, tg)
    assert free.weights.max() / free.weights.mean() > 3
    capped = rake(resp, tg, cap=3)
    w = capped.weights
    assert w.max() <= 3 * w.mean() * (1 + 1e-9)
    assert w.sum() == pytest.approx(n)
    assert not capped.converged and any(u.startswith("segment=c") for u in capped.unmet)
    assert capped.n_eff > free.n_eff
    # a cap that does not bind changes nothing
    loose = rake(resp, tg, cap=1000)
    assert loose.converged and loose.unmet == []
    pd.testing.assert_series_equal(loose.weights, free.weights, rtol=1e-9)


def test_kish_and_design_effect():
    assert kish_neff([1, 1, 1, 1]) == pytest.approx(4)
    assert kish_neff([1, 3]) == pytest.approx(16 / 10)
    assert design_effect([1, 3]) == pytest.approx(2 / 1.6)
    with pytest.raises(RankingError):
        kish_neff([])
    with pytest.raises(RankingError):
        kish_neff([1, -1])


# ============================================================================================
# Scores: sufficient statistics vs raw votes
# ============================================================================================


def _survey(seed: int, n_resp: int = 400, n_prop: int = 12):
    rng = np.random.default_rng(seed)
    segs = np.array(["academia", "citizens", "journalists", None], dtype=object)
    resp = pd.DataFrame(
        {
            "respondent_id": np.arange(n_resp) + 1000,
            "segment": rng.choice(segs, n_resp, p=[0.2, 0.5, 0.2, 0.1]),
            "state": rng.choice(["CDMX", "JAL", "NL"], n_resp),
        }
    )
    shown = rng.random((n_resp, n_prop)) < 0.6
    r, p = np.nonzero(shown)
    approve = rng.random(len(r)) < (0.2 + 0.05 * p)
    rating = rng.integers(1, 6, len(r))
    votes = pd.DataFrame({"respondent_id": resp["respondent_id"].to_numpy()[r], "proposal_id": p + 1})
    return resp, votes.assign(value=approve.astype(int)), votes.assign(value=rating)


def test_cell_statistics_and_raw_votes_give_identical_scores():
    resp, approvals, ratings = _survey(0)
    tg = pd.DataFrame(
        {
            "variable": ["segment"] * 4 + ["state"] * 3,
            "category": ["academia", "citizens", "journalists", "not_stated", "CDMX", "JAL", "NL"],
            "target": [0.25, 0.4, 0.25, 0.1, 0.5, 0.3, 0.2],
        }
    )
    res = rake(resp, tg)
    w = res.weights
    cell_of = pd.Series(
        list(zip(c._clean_category(resp["segment"]), resp["state"])), index=resp["respondent_id"].to_numpy()
    )
    cell_w = pd.Series(res.cells["weight"].to_numpy(), index=pd.MultiIndex.from_frame(res.cells[["segment", "state"]]))

    # approval: what the database would aggregate per (proposal, segment x state cell)
    a = approvals.assign(cell=cell_of.loc[approvals["respondent_id"]].to_numpy())
    stats = a.groupby(["proposal_id", "cell"], as_index=False).agg(exposures=("value", "size"), supporters=("value", "sum"))
    by_cell = approval_scores(stats, cell_w)
    by_resp = approval_scores_from_votes(approvals, w)
    pd.testing.assert_frame_equal(by_cell, by_resp, rtol=1e-12, check_dtype=False)
    # direct weighted computation
    wv = w.loc[approvals["respondent_id"]].to_numpy()
    p1 = approvals["proposal_id"].to_numpy() == 1
    assert by_resp.iloc[0]["score"] == pytest.approx((wv * approvals["value"].to_numpy())[p1].sum() / wv[p1].sum())
    assert by_resp.iloc[0]["n_eff"] == pytest.approx(kish_neff(wv[p1]))

    r = ratings.assign(cell=cell_of.loc[ratings["respondent_id"]].to_numpy(), sq=ratings["value"] ** 2)
    rstats = r.groupby(["proposal_id", "cell"], as_index=False).agg(n=("value", "size"), sum=("value", "sum"), sumsq=("sq", "sum"))
    pd.testing.assert_frame_equal(rating_scores(rstats, cell_w), rating_scores_from_votes(ratings, w), rtol=1e-12, check_dtype=False)


def test_rating_weighted_variance_estimator():
    """Unequal weights: mean and reliability-weights variance computed directly."""
    x = np.array([1.0, 2, 5, 4, 4])
    w = np.array([0.5, 2.0, 1.0, 1.5, 3.0])
    votes = pd.DataFrame({"respondent_id": range(5), "proposal_id": 7, "value": x})
    out = rating_scores_from_votes(votes, pd.Series(w), confidence=0.9).iloc[0]
    m = (w * x).sum() / w.sum()
    neff = w.sum() ** 2 / (w**2).sum()
    s2 = (w * (x - m) ** 2).sum() / (w.sum() - (w**2).sum() / w.sum())
    from scipy import stats as ss

    half = ss.t.ppf(0.95, neff - 1) * np.sqrt(s2 / neff)
    assert out["score"] == pytest.approx(m) and out["n_eff"] == pytest.approx(neff)
    assert out["ci_low"] == pytest.approx(max(1, m - half)) and out["ci_high"] == pytest.approx(min(5, m + half))


def test_score_edge_cases_and_errors():
    stats = pd.DataFrame({"proposal_id": [1, 2], "cell": ["a", "b"], "exposures": [3, 0], "supporters": [3, 0]})
    out = approval_scores(stats, pd.Series({"a": 1.0, "b": 1.0})).set_index("proposal_id")
    assert out.loc[1, "score"] == 1.0 and out.loc[1, "ci_high"] == 1.0
    assert np.isnan(out.loc[2, "score"]) and out.loc[2, "ci_low"] == 0 and out.loc[2, "ci_high"] == 1
    with pytest.raises(RankingError, match=r"without a weight: 'b'"):
        approval_scores(stats, pd.Series({"a": 1.0}))
    with pytest.raises(RankingError, match="exceeds"):
        approval_scores(stats.assign(supporters=[4, 0]), pd.Series({"a": 1.0, "b": 1.0}))
    with pytest.raises(RankingError, match="confidence"):
        approval_scores(stats, pd.Series({"a": 1.0, "b": 1.0}), confidence=95)
    one = pd.DataFrame({"proposal_id": [1], "cell": ["a"], "n": [1], "sum": [4], "sumsq": [16]})
    r = rating_scores(one, pd.Series({"a": 1.0})).iloc[0]
    assert r["score"] == 4 and (r["ci_low"], r["ci_high"]) == (1, 5)  # one rater: no interval
    with pytest.raises(RankingError, match="scale"):
        rating_scores(one.assign(sum=[6], sumsq=[36]), pd.Series({"a": 1.0}))
    votes = pd.DataFrame({"respondent_id": [1, 2], "proposal_id": [1, 1], "value": [1, 2]})
    with pytest.raises(RankingError, match="0/1"):
        approval_stats_from_votes(votes, pd.Series({1: 1.0, 2: 1.0}))
    with pytest.raises(RankingError, match="without a weight: 2"):
        rating_stats_from_votes(votes, pd.Series({1: 1.0}))


def test_duplicate_votes_count_once():
    votes = pd.DataFrame({"respondent_id": [1, 1, 2], "proposal_id": [9, 9, 9], "value": [0, 1, 0]})
    s = approval_stats_from_votes(votes, pd.Series({1: 1.0, 2: 1.0}))
    assert s["exposures"].sum() == 2 and s["supporters"].sum() == 1
    r = rating_stats_from_votes(votes.assign(value=[2, 4, 5]), pd.Series({1: 1.0, 2: 1.0}))
    assert r.set_index("cell").loc[1, ["n", "sum", "sumsq"]].tolist() == [1, 3.0, 9.0]


# ============================================================================================
# Bradley-Terry: identification, existence, solver paths, sandwich
# ============================================================================================


def test_bradley_terry_ridge_zero_requires_strong_connectivity():
    wins = pd.DataFrame({"winner_id": ["a", "a", "b"], "loser_id": ["b", "c", "c"], "weight": [2.0, 1.0, 3.0]})
    with pytest.raises(RankingError, match=r"strongly connected.*never won: 'c'.*never lost: 'a'.*ridge > 0"):
        bradley_terry(wins, ridge=0)
    out = bradley_terry(wins, ridge=0.1).set_index("proposal_id")
    assert np.isfinite(out["theta"]).all() and out["theta"].sum() == pytest.approx(0, abs=1e-10)
    assert list(out.sort_values("theta").index) == ["c", "b", "a"]
    assert ((out["ci_low"] >= 0) & (out["ci_high"] <= 1) & (out["ci_low"] <= out["score"])).all()
    with pytest.raises(RankingError, match="beat itself"):
        bradley_terry(pd.DataFrame({"winner_id": [1], "loser_id": [1], "weight": [1.0]}))
    with pytest.raises(RankingError, match="ridge"):
        bradley_terry(wins, ridge=-1)


def test_bradley_terry_score_is_mean_win_probability():
    out = bradley_terry(baseball_wins(), ridge=0.5)
    th = out["theta"].to_numpy()
    p = 1 / (1 + np.exp(th[None, :] - th[:, None]))
    np.testing.assert_allclose(out["score"], (p.sum(1) - 0.5) / 6, atol=1e-12)


def _random_wins(rng, m, n_pairs, counts_per_pair=8):
    strength = rng.normal(0, 1, m)
    i = rng.integers(0, m, n_pairs)
    j = (i + rng.integers(1, m, n_pairs)) % m
    p = 1 / (1 + np.exp(strength[j] - strength[i]))
    k = rng.binomial(counts_per_pair, p)
    wins = pd.DataFrame(
        {"winner_id": np.r_[i, j], "loser_id": np.r_[j, i], "weight": np.r_[k, counts_per_pair - k].astype(float)}
    )
    return wins[wins["weight"] > 0].reset_index(drop=True)


def test_bradley_terry_sparse_solver_matches_dense(monkeypatch):
    wins = _random_wins(np.random.default_rng(5), 400, 6000)
    sparse_fit = bradley_terry(wins, ridge=0.1)
    monkeypatch.setattr(c._BTProblem, "DENSE_MAX", 10**9)
    dense_fit = bradley_terry(wins, ridge=0.1)
    pd.testing.assert_frame_equal(sparse_fit, dense_fit, rtol=1e-7, atol=1e-9)


def _per_vote_hc0_se(votes: pd.DataFrame, theta: pd.Series) -> pd.Series:
    """Independent robust (HC0) SE of mean-zero theta with ridge 0, one score vector per vote."""
    ids = list(theta.index)
    m = len(ids)
    pos = {k: i for i, k in enumerate(ids)}
    a = votes["winner_id"].map(pos).to_numpy()
    b = votes["loser_id"].map(pos).to_numpy()
    th = theta.to_numpy()
    p = 1 / (1 + np.exp(th[b] - th[a]))
    scores = np.zeros((len(votes), m))
    scores[np.arange(len(votes)), a] = 1 - p
    scores[np.arange(len(votes)), b] = -(1 - p)
    info = np.zeros((m, m))
    np.add.at(info, (a, a), p * (1 - p))
    np.add.at(info, (b, b), p * (1 - p))
    np.add.at(info, (a, b), -p * (1 - p))
    np.add.at(info, (b, a), -p * (1 - p))
    bread = np.linalg.pinv(info)
    cov = bread @ (scores.T @ scores) @ bread
    return pd.Series(np.sqrt(np.diag(cov)), index=ids)


def _simulate_votes(rng, m=8, n=4000):
    strength = np.linspace(-1, 1, m)
    i = rng.integers(0, m, n)
    j = (i + rng.integers(1, m, n)) % m
    i_wins = rng.random(n) < 1 / (1 + np.exp(strength[j] - strength[i]))
    return pd.DataFrame(
        {
            "respondent_id": np.arange(n),
            "winner_id": np.where(i_wins, i, j),
            "loser_id": np.where(i_wins, j, i),
            "weight": 1.0,
        }
    )


def _aggregate(votes: pd.DataFrame) -> pd.DataFrame:
    return votes.groupby(["winner_id", "loser_id"], as_index=False)["weight"].sum()


def test_sandwich_one_vote_per_respondent_equals_hc0_and_is_close_to_model():
    votes = _simulate_votes(np.random.default_rng(11))
    wins = _aggregate(votes)
    model = bradley_terry(wins, ridge=0).set_index("proposal_id")
    clustered = bradley_terry(wins, ridge=0, clusters=votes).set_index("proposal_id")
    pd.testing.assert_series_equal(model["theta"], clustered["theta"])
    hc0 = _per_vote_hc0_se(votes, model["theta"])
    ratio = hc0 / model["theta_se"]
    assert ratio.between(0.9, 1.1).all()  # correct model, independent votes: robust ~ model-based
    # Each proposal reports the larger of the robust and the model-based SE: the sandwich where it
    # is larger (here about half of them), never less than the model's.
    assert 0 < (hc0 > model["theta_se"]).sum() < len(hc0)
    np.testing.assert_allclose(clustered["theta_se"], np.maximum(hc0, model["theta_se"]), rtol=1e-8)


def test_sandwich_grows_when_one_respondent_repeats_votes():
    votes = _simulate_votes(np.random.default_rng(12), n=2000)
    k = 4
    repeated = pd.concat([votes] * k, ignore_index=True)  # each respondent casts the same vote k times
    clusters = repeated.groupby(["respondent_id", "winner_id", "loser_id"], as_index=False)["weight"].sum()
    wins = _aggregate(repeated)
    model = bradley_terry(wins, ridge=0).set_index("proposal_id")
    clustered = bradley_terry(wins, ridge=0, clusters=clusters).set_index("proposal_id")
    single = bradley_terry(_aggregate(votes), ridge=0, clusters=votes).set_index("proposal_id")
    ratio = clustered["theta_se"] / model["theta_se"]
    assert (ratio > 1.6).all()  # ~ sqrt(k) = 2: the model believes it has k times the information
    # Duplicates add nothing to the sandwich: both fits take the single votes' HC0 where it exceeds
    # their own model-based SE (the repeated data's is about half, so everywhere).
    hc0 = _per_vote_hc0_se(votes, single["theta"])
    assert (hc0 > model["theta_se"]).all()
    single_model = bradley_terry(_aggregate(votes), ridge=0).set_index("proposal_id")["theta_se"]
    np.testing.assert_allclose(clustered["theta_se"], np.maximum(hc0, model["theta_se"]), rtol=1e-8)
    np.testing.assert_allclose(single["theta_se"], np.maximum(hc0, single_model), rtol=1e-8)
    assert ((clustered["ci_high"] - clustered["ci_low"]) > (model["ci_high"] - model["ci_low"])).all()


def test_clusters_must_add_up_to_wins():
    votes = _simulate_votes(np.random.default_rng(1), n=200)
    wins = _aggregate(votes)
    with pytest.raises(RankingError, match="do not add up"):
        bradley_terry(wins, clusters=votes.iloc[1:])


@pytest.mark.slow
def test_bradley_terry_runs_on_2000_proposals_and_200k_pairs():
    wins = _random_wins(np.random.default_rng(2), 2000, 100_000, counts_per_pair=10)
    assert len(wins) > 150_000
    out = bradley_terry(wins, ridge=0.1)
    assert len(out) == 2000 and np.isfinite(out[["theta", "theta_se", "score", "ci_low"]].to_numpy()).all()


# ============================================================================================
# Ranking
# ============================================================================================


def test_rank_lower_bound_beats_few_enthusiastic_votes():
    stats = pd.DataFrame(
        {"proposal_id": ["few", "many"], "cell": "all", "exposures": [3, 3000], "supporters": [3, 2400]}
    )
    scores = approval_scores(stats, unit_cell())
    assert list(rank(scores)["proposal_id"]) == ["many", "few"]
    assert list(rank(scores, by="point")["proposal_id"]) == ["few", "many"]
    with pytest.raises(RankingError, match="by must be"):
        rank(scores, by="median")


def test_rank_missing_scores_sort_last():
    scores = pd.DataFrame({"proposal_id": [1, 2, 3], "score": [np.nan, 0.2, 0.5], "ci_low": [0.0, 0.1, 0.1], "n_eff": [0, 5, 5]})
    assert list(rank(scores, by="point")["proposal_id"]) == [3, 2, 1]
    assert list(rank(scores)["proposal_id"]) == [2, 3, 1]


def test_per_segment_side_by_side():
    rows = [
        ("p1", "acad", "acad", 10, 9),
        ("p2", "acad", "acad", 10, 2),
        ("p1", "cit", "cit", 10, 1),
        ("p2", "cit", "cit", 10, 8),
        ("p3", "cit", "cit", 10, 5),
    ]
    stats = pd.DataFrame(rows, columns=["proposal_id", "cell", "segment", "exposures", "supporters"])
    out = per_segment(stats, pd.Series({"acad": 1.0, "cit": 1.0}), by="point").set_index("proposal_id")
    figures = ["score", "ci_low", "ci_high", "n_eff", "n_votes"]
    assert list(out.columns) == ["rank_overall", "rank_acad", *(f"{f}_acad" for f in figures),
                                 "rank_cit", *(f"{f}_cit" for f in figures)]
    assert out.loc["p1", "rank_acad"] == 1 and out.loc["p2", "rank_cit"] == 1
    assert pd.isna(out.loc["p3", "rank_acad"]) and pd.isna(out.loc["p3", "score_acad"])
    assert all(str(out[c].dtype) == "Int64" for c in out.columns if c.startswith("rank_"))  # <NA> where missing
    # Each segment's own figures, by hand: p1 among academics is 9 of 10 (Wilson interval on n = 10),
    # among citizens 1 of 10; not the overall 10 of 20.
    z = 1.959963984540054
    p_hat, n = 0.9, 10
    centre, half = (p_hat + z * z / (2 * n)) / (1 + z * z / n), z * math.sqrt(p_hat * (1 - p_hat) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert out.loc["p1", "score_acad"] == pytest.approx(0.9) and out.loc["p1", "score_cit"] == pytest.approx(0.1)
    assert (out.loc["p1", "ci_low_acad"], out.loc["p1", "ci_high_acad"]) == pytest.approx((centre - half, centre + half))
    assert out.loc["p1", "n_eff_acad"] == pytest.approx(10) and out.loc["p3", "n_votes_cit"] == 10
    assert out["rank_cit"].to_dict() == {"p1": 3, "p2": 1, "p3": 2}
    # overall every proposal has share 0.5: ties go to the larger n_eff (p1, p2: 20; p3: 10), then the id
    assert out["rank_overall"].to_dict() == {"p1": 1, "p2": 2, "p3": 3}


# ============================================================================================
# Property tests
# ============================================================================================


@st.composite
def approval_stats(draw):
    n_prop = draw(st.integers(1, 5))
    n_cell = draw(st.integers(1, 4))
    rows = []
    for p in range(n_prop):
        for cell in range(n_cell):
            if draw(st.booleans()) or cell == 0:
                e = draw(st.integers(1, 30))
                rows.append((p, f"c{cell}", e, draw(st.integers(0, e))))
    weights = pd.Series([draw(st.integers(1, 5)) for _ in range(n_cell)], index=[f"c{i}" for i in range(n_cell)], dtype=float)
    return pd.DataFrame(rows, columns=["proposal_id", "cell", "exposures", "supporters"]), weights


@PROPS
@given(approval_stats(), st.integers(2, 4))
def test_prop_approval_duplicated_rows_equal_integer_multiplicity(data, k):
    stats, weights = data
    dup = pd.concat([stats] * k, ignore_index=True)
    mult = stats.assign(exposures=stats["exposures"] * k, supporters=stats["supporters"] * k)
    pd.testing.assert_frame_equal(approval_scores(dup, weights), approval_scores(mult, weights), rtol=1e-12)


@PROPS
@given(approval_stats())
def test_prop_approval_integer_weight_equals_duplicated_respondents_point_score(data):
    """A respondent of weight k gives the same score as k respondents of weight 1. The interval
    deliberately differs: Kish's n_eff counts the weighted respondent once (sampling weights)."""
    stats, weights = data
    expanded = []
    for cell, wt in weights.items():
        for copy in range(int(wt)):
            expanded.append((cell, f"{cell}#{copy}"))
    expanded = pd.DataFrame(expanded, columns=["cell", "new_cell"])
    dup = stats.merge(expanded, on="cell").drop(columns="cell").rename(columns={"new_cell": "cell"})
    ones = pd.Series(1.0, index=expanded["new_cell"].to_numpy())
    a = approval_scores(stats, weights)
    b = approval_scores(dup, ones)
    np.testing.assert_allclose(a["score"], b["score"], rtol=1e-12)
    assert (b["n_eff"] >= a["n_eff"] - 1e-9).all()


@PROPS
@given(approval_stats(), st.floats(1e-3, 1e3))
def test_prop_approval_and_rating_invariant_to_weight_scale(data, factor):
    stats, weights = data
    pd.testing.assert_frame_equal(approval_scores(stats, weights), approval_scores(stats, weights * factor), rtol=1e-9)
    r = stats.rename(columns={"exposures": "n"}).assign(sum=lambda d: d["n"] * 3 + d["supporters"], sumsq=lambda d: d["n"] * 9 + 7 * d["supporters"])
    r = r.drop(columns="supporters")
    pd.testing.assert_frame_equal(rating_scores(r, weights), rating_scores(r, weights * factor), rtol=1e-9)


@PROPS
@given(approval_stats(), st.randoms(use_true_random=False))
def test_prop_approval_relabelling(data, rnd):
    stats, weights = data
    ids = sorted(stats["proposal_id"].unique())
    new = [f"id-{x}" for x in ids]
    rnd.shuffle(new)
    mapping = dict(zip(ids, new))
    shuffled = stats.sample(frac=1, random_state=rnd.randint(0, 10**6)).assign(proposal_id=lambda d: d["proposal_id"].map(mapping))
    a = approval_scores(stats, weights).assign(proposal_id=lambda d: d["proposal_id"].map(mapping))
    b = approval_scores(shuffled, weights)
    pd.testing.assert_frame_equal(a.set_index("proposal_id").sort_index(), b.set_index("proposal_id").sort_index(), rtol=1e-12)
    ra = rank(a).set_index("proposal_id")["rank"].sort_index()
    rb = rank(b).set_index("proposal_id")["rank"].sort_index()
    # identical up to ties, which are then broken by id
    merged = a.set_index("proposal_id").join(ra).join(rb.rename("rank_b"))
    same_key = merged.groupby([merged["ci_low"].round(12), merged["n_eff"].round(9)])
    assert all(sorted(g["rank"]) == sorted(g["rank_b"]) for _, g in same_key)


@st.composite
def pairwise_wins(draw):
    m = draw(st.integers(2, 6))
    rows = []
    for i in range(m):
        for j in range(m):
            if i != j and draw(st.booleans()):
                rows.append((i, j, float(draw(st.integers(1, 6)))))
    if not rows:
        rows.append((0, 1, 1.0))
    return pd.DataFrame(rows, columns=["winner_id", "loser_id", "weight"])


@PROPS
@given(pairwise_wins(), st.integers(2, 4))
def test_prop_bt_integer_weights_equal_duplicated_rows(wins, k):
    dup = pd.concat([wins] * k, ignore_index=True)
    pd.testing.assert_frame_equal(
        bradley_terry(dup, ridge=0.5), bradley_terry(wins.assign(weight=wins["weight"] * k), ridge=0.5), rtol=1e-9, atol=1e-10
    )
    unit = wins.loc[wins.index.repeat(wins["weight"].astype(int))].assign(weight=1.0)
    pd.testing.assert_frame_equal(bradley_terry(unit, ridge=0.5), bradley_terry(wins, ridge=0.5), rtol=1e-9, atol=1e-10)


@PROPS
@given(pairwise_wins(), st.floats(1e-2, 1e2))
def test_prop_bt_invariant_to_weight_scale(wins, factor):
    wins = wins.assign(counts=wins["weight"])
    base = bradley_terry(wins, ridge=0.5)
    scaled = bradley_terry(wins.assign(weight=wins["weight"] * factor), ridge=0.5)
    pd.testing.assert_frame_equal(base, scaled, rtol=1e-8, atol=1e-10)


@PROPS
@given(pairwise_wins(), st.randoms(use_true_random=False))
def test_prop_bt_relabelling(wins, rnd):
    ids = sorted(set(wins["winner_id"]) | set(wins["loser_id"]))
    new = [f"p{x}" for x in ids]
    rnd.shuffle(new)
    mapping = dict(zip(ids, new))
    relabelled = wins.sample(frac=1, random_state=rnd.randint(0, 10**6)).assign(
        winner_id=lambda d: d["winner_id"].map(mapping), loser_id=lambda d: d["loser_id"].map(mapping)
    )
    a = bradley_terry(wins, ridge=0.3).assign(proposal_id=lambda d: d["proposal_id"].map(mapping))
    b = bradley_terry(relabelled, ridge=0.3)
    pd.testing.assert_frame_equal(
        a.set_index("proposal_id").sort_index(), b.set_index("proposal_id").sort_index(), rtol=1e-8, atol=1e-10
    )


@st.composite
def survey_frames(draw):
    n_seg = draw(st.integers(1, 4))
    n_state = draw(st.integers(1, 5))
    segs = [f"s{i}" for i in range(n_seg)]
    states = [f"e{i}" for i in range(n_state)]
    rows = [(s, e) for s in segs for e in states]  # every combination present: a solution exists
    extra = draw(st.lists(st.tuples(st.sampled_from(segs), st.sampled_from(states)), max_size=40))
    rows += extra
    resp = pd.DataFrame(rows, columns=["segment", "state"])
    resp.insert(0, "respondent_id", range(len(resp)))
    seg_t = draw(st.lists(st.floats(0.05, 1.0), min_size=n_seg, max_size=n_seg))
    state_t = draw(st.lists(st.floats(0.05, 1.0), min_size=n_state, max_size=n_state))
    targets = pd.concat(
        [
            pd.DataFrame({"variable": "segment", "category": segs, "target": seg_t}),
            pd.DataFrame({"variable": "state", "category": states, "target": state_t}),
        ]
    )
    return resp, targets


@PROPS
@given(survey_frames())
def test_prop_raked_weights_meet_every_margin(frames):
    resp, targets = frames
    tol = 1e-8
    res = rake(resp, targets, tol=tol, max_iter=5000)
    w = res.weights
    assert res.converged and w.sum() == pytest.approx(len(resp))
    for var in ("segment", "state"):
        t = targets[targets["variable"] == var].set_index("category")["target"]
        t = t / t.sum()
        achieved = w.groupby(resp[var].to_numpy()).sum() / w.sum()
        assert (achieved.reindex(t.index) - t).abs().max() < tol


@PROPS
@given(survey_frames(), st.sampled_from([None, 2.0]))
def test_prop_raking_counted_rows_equals_raking_the_repeated_rows(frames, cap):
    """Both ranking paths rake one row per weighting cell with its respondent count: the weights,
    iterations and diagnostics must be exactly those of raking every respondent."""
    resp, targets = frames
    cells = resp.groupby(["segment", "state"]).size().rename("n").reset_index()
    cells.insert(0, "respondent_id", range(len(cells)))
    repeated = cells.loc[cells.index.repeat(cells["n"])].reset_index(drop=True)
    repeated["respondent_id"] = range(len(repeated))
    per_row = rake(repeated.drop(columns="n"), targets, max_iter=5000, cap=cap)
    counted = rake(cells.drop(columns="n"), targets, max_iter=5000, cap=cap, counts=cells["n"].to_numpy())
    starts = np.concatenate([[0], np.cumsum(cells["n"].to_numpy())[:-1]])
    np.testing.assert_array_equal(counted.weights.to_numpy(), per_row.weights.to_numpy()[starts])
    assert (counted.iterations, counted.converged, counted.unmet) == (per_row.iterations, per_row.converged, per_row.unmet)
    assert counted.n_eff == pytest.approx(per_row.n_eff, rel=1e-12)
    pd.testing.assert_frame_equal(counted.margins, per_row.margins)
    with pytest.raises(RankingError, match="counts must give a positive whole number"):
        rake(cells.drop(columns="n"), targets, counts=np.zeros(len(cells), dtype=np.int64))


@PROPS
@given(survey_frames(), st.integers(2, 3))
def test_prop_weights_of_duplicated_respondents(frames, k):
    resp, targets = frames
    dup = pd.concat([resp] * k, ignore_index=True).assign(respondent_id=lambda d: range(len(d)))
    base = rake(resp, targets, tol=1e-10, max_iter=5000).weights.to_numpy()
    np.testing.assert_allclose(rake(dup, targets, tol=1e-10, max_iter=5000).weights.to_numpy(), np.tile(base, k), rtol=1e-6)
    ps = poststratify(resp, targets).to_numpy()
    np.testing.assert_allclose(poststratify(dup, targets).to_numpy(), np.tile(ps, k), rtol=1e-12)
    totals = targets.assign(target=targets["target"] * 1e6)
    np.testing.assert_allclose(rake(resp, totals, tol=1e-10, max_iter=5000).weights.to_numpy(), base, rtol=1e-8)


@PROPS
@given(
    st.lists(st.tuples(st.sampled_from([0.1, 0.2, 0.3]), st.sampled_from([1.0, 5.0, 9.0])), min_size=1, max_size=25),
    st.randoms(use_true_random=False),
)
def test_prop_rank_ties_by_neff_then_id(rows, rnd):
    scores = pd.DataFrame(rows, columns=["ci_low", "n_eff"])
    scores["proposal_id"] = rnd.sample(range(1000), len(scores))
    scores["score"] = 0.5
    # same value reached by different arithmetic must still tie
    scores["ci_low"] = scores["ci_low"] * 3 / 3 + 0.0
    expected = sorted(scores.itertuples(index=False), key=lambda r: (-r.ci_low, -r.n_eff, r.proposal_id))
    ranked = rank(scores.sample(frac=1, random_state=rnd.randint(0, 10**6)))
    assert ranked["proposal_id"].tolist() == [r.proposal_id for r in expected]
    assert ranked["rank"].tolist() == list(range(1, len(scores) + 1))
