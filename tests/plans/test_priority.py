"""The combined priority of the IDMX list, with numbers worked out by hand (see idmx.plans.priority)."""

from __future__ import annotations

import pandas as pd
import pytest

from idmx.editions import priority as p


def frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["key", *p.PROPOSAL_COLUMNS])


def row(key, run, pid, score, low, high, n_eff, n_votes):
    return {"key": key, "run_id": run, "proposal_id": pid, "score": score, "ci_low": low, "ci_high": high,
            "n_eff": n_eff, "n_votes": n_votes}


# --- normalisation -----------------------------------------------------------------------------------------


def test_rating_maps_one_to_five_onto_zero_to_one():
    assert p.normalise("rating", 1) == 0.0
    assert p.normalise("rating", 3) == 0.5
    assert p.normalise("rating", 4.2) == pytest.approx(0.8)
    assert p.normalise("rating", 5) == 1.0


def test_approval_and_pairwise_are_kept_and_clipped():
    assert p.normalise("approval", 0.37) == 0.37
    assert p.normalise("pairwise", 0.5) == 0.5
    assert p.normalise("approval", 1.2) == 1.0
    assert p.normalise("pairwise", -0.1) == 0.0
    assert p.normalise("approval", None) is None
    assert p.normalise("approval", float("nan")) is None
    with pytest.raises(ValueError):
        p.normalise("borda", 0.5)


def test_run_rows_normalise_and_widen_missing_interval_ends():
    results = [
        {"rank": 1, "proposal_id": 7, "score": 4.2, "ci_low": 3.8, "ci_high": 4.6, "n_eff": 40.0, "n_votes": 50},
        # A single rating: no t-interval; the widest interval stands in for it.
        {"rank": 2, "proposal_id": 8, "score": 5.0, "ci_low": None, "ci_high": None, "n_eff": 1.0, "n_votes": 1},
        # Nobody saw it: no score, left out.
        {"rank": 3, "proposal_id": 9, "score": None, "ci_low": None, "ci_high": None, "n_eff": 0.0, "n_votes": 0},
    ]
    out = p.run_rows(3, "rating", results)
    assert [r["proposal_id"] for r in out] == [7, 8]
    assert out[0]["score"] == pytest.approx(0.8)
    assert out[0]["ci_low"] == pytest.approx(0.7)
    assert out[0]["ci_high"] == pytest.approx(0.9)
    assert (out[1]["ci_low"], out[1]["score"], out[1]["ci_high"]) == (0.0, 1.0, 1.0)
    assert out[0]["run_id"] == 3 and out[0]["n_votes"] == 50


# --- combination -------------------------------------------------------------------------------------------


def worked_example() -> pd.DataFrame:
    """Run 1 (approval, weight 2) and run 2 (rating already normalised, weight 1).

    Item 1 holds proposals 11 and 13 of run 1 (duplicates) and 21 of run 2; item 2 holds 12 of run 1.
    """
    return frame([
        row(1, 1, 11, 0.60, 0.50, 0.70, 100.0, 120),
        row(2, 1, 12, 0.40, 0.30, 0.50, 50.0, 60),
        row(1, 1, 13, 0.65, 0.45, 0.85, 20.0, 25),  # higher score, but lower ci_low: not the one used
        row(1, 2, 21, 0.80, 0.70, 0.90, 40.0, 50),
    ])


def test_duplicates_in_one_run_count_once_by_highest_ci_low():
    best = p.best_per_run(worked_example())
    assert sorted(best["proposal_id"]) == [11, 12, 21]


def test_weighted_mean_over_the_runs_where_the_item_appears():
    out = p.combine(worked_example(), {1: 2.0, 2: 1.0}).set_index("key")
    # Item 1: (2 x 0.60 + 1 x 0.80) / 3, intervals alike; support 100 + 40, raw 120 + 50.
    assert out.loc[1, "priority"] == pytest.approx(2.0 / 3.0)
    assert out.loc[1, "ci_low"] == pytest.approx(1.7 / 3.0)
    assert out.loc[1, "ci_high"] == pytest.approx(2.3 / 3.0)
    assert out.loc[1, "support_weighted"] == pytest.approx(140.0)
    assert out.loc[1, "support_raw"] == 170
    assert out.loc[1, "n_runs"] == 2
    # Item 2 appears in run 1 only: the weights renormalise to that run alone.
    assert out.loc[2, "priority"] == pytest.approx(0.40)
    assert (out.loc[2, "ci_low"], out.loc[2, "ci_high"]) == (pytest.approx(0.30), pytest.approx(0.50))
    assert out.loc[2, "support_raw"] == 60


def test_weights_must_be_positive_and_known():
    with pytest.raises(ValueError):
        p.combine(worked_example(), {1: 0.0, 2: 1.0})
    with pytest.raises(ValueError):
        p.combine(worked_example(), {1: 1.0})


def test_empty_rows_give_no_items():
    assert p.combine(frame([]), {}).empty


def test_rank_by_lower_end_then_priority_then_support_then_key():
    items = pd.DataFrame([
        {"key": 1, "priority": 0.50, "ci_low": 0.40, "ci_high": 0.6, "support_weighted": 10.0, "support_raw": 10, "n_runs": 1},
        {"key": 2, "priority": 0.90, "ci_low": 0.20, "ci_high": 1.0, "support_weighted": 3.0, "support_raw": 3, "n_runs": 1},
        {"key": 3, "priority": 0.55, "ci_low": 0.40, "ci_high": 0.7, "support_weighted": 10.0, "support_raw": 10, "n_runs": 1},
        {"key": 4, "priority": 0.50, "ci_low": 0.40, "ci_high": 0.6, "support_weighted": 30.0, "support_raw": 30, "n_runs": 1},
        {"key": 5, "priority": 0.50, "ci_low": 0.40, "ci_high": 0.6, "support_weighted": 10.0, "support_raw": 10, "n_runs": 1},
    ])
    ranked = p.rank(items)
    # ci_low 0.40 beats 0.20 whatever the point estimate; then priority 0.55; then support 30; then key.
    assert list(ranked["key"]) == [3, 4, 1, 5, 2]
    assert list(ranked["rank"]) == [1, 2, 3, 4, 5]


def test_worked_example_ranks_item_one_first():
    ranked = p.rank(p.combine(worked_example(), {1: 2.0, 2: 1.0}))
    assert list(ranked["key"]) == [1, 2]


def test_default_tiers_follow_policy():
    tiers = p.default_tiers()
    assert [p.default_tier(r, tiers) for r in (1, 10, 11, 30, 31, 500)] == [1, 1, 2, 2, 3, 3]
    bounded = [p.Tier(1, 65, 5), p.Tier(2, 130, 8)]
    assert p.default_tier(8, bounded) == 2
    assert p.default_tier(9, bounded) is None


def test_best_proposal_prefers_ci_low():
    rows = worked_example()
    assert p.best_proposal(rows[rows["key"] == 1]) == 21


# --- grouping ----------------------------------------------------------------------------------------------

AIR_MUNICIPAL = "Calidad del aire por municipio"
AIR_CITY = "Calidad del aire en la ciudad"
FUEL_STATION = "Precios diarios de gasolina por estación de servicio"
FUEL_OUTLET = "Precio de la gasolina en cada gasolinera"
SCHOOLS = "Escuelas públicas con matrícula por grado"
# A different dataset on a neighbouring topic: the same measurement at another grain (station vs municipality)
# counts as the same request, water instead of air does not.
WATER = "Calidad del agua en ríos, lagos y acuíferos"


def test_matching_proposals_of_different_runs_are_grouped():
    groups = p.suggest_groups([
        p.Candidate(1, 10, WATER), p.Candidate(2, 20, AIR_MUNICIPAL), p.Candidate(3, 10, FUEL_STATION),
        p.Candidate(4, 20, FUEL_OUTLET), p.Candidate(5, 10, AIR_CITY), p.Candidate(6, 30, SCHOOLS),
    ])
    assert groups == [[1], [2, 5], [3, 4], [6]]


def test_proposals_of_the_same_run_are_not_grouped():
    groups = p.suggest_groups([p.Candidate(3, 10, FUEL_STATION), p.Candidate(4, 10, FUEL_OUTLET)])
    assert groups == [[3], [4]]


def test_grouping_is_transitive():
    groups = p.suggest_groups([
        p.Candidate(3, 10, FUEL_STATION), p.Candidate(4, 20, FUEL_OUTLET),
        p.Candidate(8, 30, "Precios de la gasolina por gasolinera, diario"),
    ])
    assert groups == [[3, 4, 8]]


def test_staff_decisions_are_kept():
    # Split by staff: two items stay apart even though their titles match.
    apart = p.suggest_groups([p.Candidate(3, 10, FUEL_STATION, 1), p.Candidate(4, 20, FUEL_OUTLET, 2)])
    assert apart == [[3], [4]]
    # Grouped by staff: stay together even though their titles do not match.
    together = p.suggest_groups([p.Candidate(3, 10, FUEL_STATION, 1), p.Candidate(6, 20, SCHOOLS, 1)])
    assert together == [[3, 6]]
    # A new proposal joins an existing item, but does not bridge two items staff kept apart.
    bridged = p.suggest_groups([
        p.Candidate(3, 10, FUEL_STATION, 1), p.Candidate(4, 20, FUEL_OUTLET, 2),
        p.Candidate(8, 30, "Precios de la gasolina por gasolinera, diario"),
    ])
    assert len(bridged) == 2 and sorted(map(len, bridged)) == [1, 2]
    assert [3] in bridged or [4] in bridged


# --- differences between versions -------------------------------------------------------------------------


def test_diff_lists_added_removed_and_changed_fields():
    old = [p.DiffItem(1, "Aire", 1, 1, "INECC"), p.DiffItem(2, "Gasolina", 2, 1, "CRE"), p.DiffItem(3, "Escuelas", 3, 2, "SEP")]
    new = [p.DiffItem(2, "Gasolina", 1, 1, "CRE"), p.DiffItem(1, "Aire", 2, 2, "SEMARNAT"), p.DiffItem(4, "Delitos", 3, 2, "SESNSP")]
    d = p.diff(old, new)
    assert [x.key for x in d.added] == [4]
    assert [x.key for x in d.removed] == [3]
    assert [(c.key, c.field, c.before, c.after) for c in d.changed] == [
        (2, "rank", 2, 1), (1, "rank", 1, 2), (1, "tier", 1, 2), (1, "institution", "INECC", "SEMARNAT"),
    ]
    assert not d.empty
    assert p.diff(old, old).empty
