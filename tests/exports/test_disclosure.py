"""Disclosure control of the open data: k-anonymity reached, the risk before and after, and a valid
Frictionless package, on the demo consultations and on a synthetic one of 100,000 respondents."""

from __future__ import annotations

import json
import time
from pathlib import Path

import frictionless
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from idmx import seeding
from idmx.cli import main
from idmx.db import Database
from idmx.exports import disclosure
from idmx.exports import services as data
from idmx.ranking import services as runs
from tests.exports.test_consultation_data import DEMO, _env, close

STATES = [f"{i:02d}" for i in range(1, 33)]
SEGMENTS = ["private_sector", "academia", "journalists", "civil_society", "public_officials", "citizens"]


def smallest_class(frame: pd.DataFrame, columns: list[str]) -> int:
    """k of a published table: its smallest class on ``columns`` (computed from the file, not trusted)."""
    return int(frame.groupby(columns, dropna=False).size().min())


def test_a_hand_checkable_table():
    # Four people in Sonora (norte), one in Chihuahua (norte), six in CDMX: with k = 5 the lone
    # Chihuahuan and the four Sonorans share the class "norte"; CDMX stays exact.
    frame = pd.DataFrame({"state": ["26"] * 4 + ["08"] + ["09"] * 6})
    p = disclosure.protect(frame, ["state"], 5, [disclosure.region_step(), disclosure.suppress("state")])
    assert p.frame["state"].tolist() == ["norte"] * 5 + ["09"] * 6
    assert p.risk_before == pytest.approx(5 / 11) and p.risk_after == 0 and p.suppressed == 0
    assert disclosure.risk(frame, ["state"], 5) == pytest.approx(5 / 11)
    # Nobody to pool with: suppressed (left out) when allowed, else kept and counted in the risk.
    tiny = pd.DataFrame({"segment": ["a", "a", "b"], "state": ["09", "09", "26"]})
    out = disclosure.protect(tiny, ["segment", "state"], 3, [disclosure.suppress("state")], fixed=["segment"])
    assert out.kept.tolist() == [False, False, False] and out.risk_after == 0
    kept = disclosure.protect(tiny, ["segment", "state"], 3, [disclosure.suppress("state")], fixed=["segment"],
                              may_suppress=False)
    assert kept.kept.all() and kept.risk_after == 1.0
    # A lonely record borrows from the largest class that can spare the respondents.
    pad = pd.DataFrame({"state": ["09"] * 8 + ["26"]})
    padded = disclosure.protect(pad, ["state"], 3, [disclosure.suppress("state")])
    assert padded.risk_after == 0 and (padded.frame["state"] == disclosure.SUPPRESSED).sum() == 3
    assert (padded.frame["state"] == "09").sum() == 6


def test_votes_bands():
    assert disclosure.votes_band([1, 3, 9, 10, 57, 140]).tolist() == ["1", "2-4", "5-9", "10-19", "50-99", "100+"]
    assert disclosure.votes_band([1, 3, 57], 1).tolist() == ["1-9", "1-9", "50+"]


def test_weighted_cells_keep_every_respondent():
    cells = pd.DataFrame({"segment": ["a", "a", "a", "b"], "state": ["09", "15", "26", "09"]})
    p = disclosure.protect(cells, ["segment", "state"], 5, [disclosure.region_step(), disclosure.suppress("state")],
                           fixed=["segment"], weight=np.array([10, 2, 3, 7]), may_suppress=False)
    # 09 and 15 are both "centro": 12 respondents; Sonora alone (3) pools with part of nothing -> the
    # whole smallest other class joins it.
    assert p.kept.all() and p.risk_after == 0
    sizes = pd.Series([10, 2, 3, 7]).groupby([p.frame["segment"], p.frame["state"]]).sum()
    assert sizes.min() >= 5


def synthetic_respondents(n: int, seed: int = 22) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Sectors and states as skewed as a national consultation's, and a long-tailed vote count."""
    rng = np.random.default_rng(seed)
    segment = rng.choice(SEGMENTS + ["not_stated"], size=n, p=[0.2, 0.15, 0.03, 0.1, 0.12, 0.38, 0.02])
    weights = rng.gamma(1.2, 1.0, size=len(STATES))
    state = rng.choice(STATES + ["not_stated"], size=n, p=np.append(weights / weights.sum() * 0.97, 0.03))
    votes = np.minimum(1 + rng.geometric(0.06, size=n), 400)
    return {"segment": segment.astype(object), "state": state.astype(object)}, votes


def test_a_synthetic_package_of_100000_respondents_reaches_k():
    categories, votes = synthetic_respondents(100_000)
    exact = pd.DataFrame({**categories, "votes": votes.astype(str)})
    before = disclosure.risk(exact, ["segment", "state", "votes"], 5)
    t = time.perf_counter()
    people = pd.DataFrame({**categories, "votes": votes}).value_counts().rename("respondents").reset_index()
    published, protection = data.protected_respondents(people, 5)
    seconds = time.perf_counter() - t
    assert protection.risk_before == pytest.approx(before)
    print(f"\n100,000 respondents: risk before {before:.4f} (exact vote counts); after {protection.risk_after}; "
          f"recoded {protection.recoded}, suppressed "
          f"{protection.suppressed}; {seconds:.2f} s")
    assert before > 0.1  # there was something to protect
    assert protection.risk_after == 0
    assert smallest_class(published, ["segment", "region", "state", "votes"]) >= 5
    assert len(published) + protection.suppressed == 100_000
    assert protection.suppressed < 100  # coarsened, hardly ever dropped
    # Most people keep their state: only small classes were recoded.
    assert (published["state"] != "").mean() > 0.5


def test_pseudo_clusters_pool_at_least_k_respondents_of_one_group():
    rng = np.random.default_rng(3)
    group = rng.integers(0, 4, 400)
    pooled = rng.random(400) < 0.3
    pooled[group == 3] = False
    pooled[np.flatnonzero(group == 2)[:3]] = True  # a group with only 3 pooled: one cluster of 3
    pooled[np.flatnonzero(group == 2)[3:]] = False
    cluster = disclosure.pseudo_clusters(pooled, group, 5)
    assert np.array_equal(cluster, disclosure.pseudo_clusters(pooled, group, 5))  # the same export, the same files
    assert (cluster >= 0).all()
    assert len(np.unique(cluster)) == cluster.max() + 1
    alone = cluster[~pooled]
    assert len(np.unique(alone)) == len(alone) and not np.isin(alone, cluster[pooled]).any()
    for c in np.unique(cluster[pooled]):
        members = np.flatnonzero(cluster == c)
        assert pooled[members].all() and len(set(group[members])) == 1
        assert len(members) >= 5 or (group[members[0]] == 2 and len(members) == 3)
        assert len(members) < 10  # as many clusters as k allows: the intervals keep their degrees of freedom


def test_the_pairwise_clusters_of_100000_respondents_reach_k():
    categories, votes = synthetic_respondents(100_000, seed=23)
    t = time.perf_counter()
    clusters = data.protected_clusters(categories, votes, ["segment", "state"], ["segment"], 5)
    seconds = time.perf_counter() - t
    p = clusters.protection
    figures = clusters.figures()
    print(f"\n100,000 pairwise respondents: risk before {p.risk_before:.4f}, after {p.risk_after}; "
          f"{figures}; {seconds:.2f} s")
    assert p.risk_before > 0.1 and p.risk_after == 0
    # What statistics.csv shows of each cluster: its cell and its number of comparisons. A cluster in a
    # class of fewer than k clusters on those must pool at least k respondents of that cell.
    members = np.bincount(clusters.cluster)
    published = pd.DataFrame({"cell": clusters.cluster_cell,
                              "comparisons": np.bincount(clusters.cluster, weights=votes).astype(np.int64)})
    rare = (published.groupby(["cell", "comparisons"])["cell"].transform("size") < 5).to_numpy()
    assert rare.any() and (members[rare] >= 5).all()
    assert (members[members > 1] >= 5).all() and (members[members > 1] < 10).all()
    # A cluster never mixes cells: its rows carry its members' own cell.
    assert np.array_equal(clusters.cluster_cell[clusters.cluster], clusters.respondent_cell)
    assert members.sum() == 100_000 and figures["pooled_respondents"] == int(members[members > 1].sum())
    # The weights depend on the sector: it stays exact.
    assert set(clusters.cells["segment"]) == set(categories["segment"])


@pytest.fixture
def demo_package(db: Database, tmp_path: Path) -> dict[str, Path]:
    seeding.seed_demo(db)
    ids = close(db, DEMO)
    out = {}
    runner = CliRunner()
    for slug in DEMO:
        runs.run_for_consultation(db, ids[slug])
        out[slug] = tmp_path / slug
        result = runner.invoke(main, ["export", "consultation", slug, "--out", str(out[slug])], env=_env(db, tmp_path))
        assert result.exit_code == 0, result.output
    return out


@pytest.mark.slow
def test_the_demo_package_is_k_anonymous_and_a_valid_data_package(demo_package: dict[str, Path], capsys):
    for slug, directory in demo_package.items():
        package = json.loads((directory / "datapackage.json").read_text(encoding="utf-8"))
        control = package["disclosure_control"]
        assert control["k"] == 5
        people = pd.read_csv(directory / "respondents.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
        cells = pd.read_csv(directory / "cells.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
        # k computed from the files themselves.
        assert smallest_class(people, ["segment", "region", "state", "votes"]) >= 5
        assert cells["respondents"].astype(int).min() >= 5
        assert control["files"]["respondents.csv"]["risk_before"] > 0.05
        assert control["files"]["respondents.csv"]["risk_after"] == 0
        assert control["residual_risk"] == 0
        assert control["files"]["cells.csv and statistics.csv"]["risk_after"] == 0
        if DEMO[slug] == "pairwise":
            clusters = control["pairwise_clusters"]
            assert control["files"]["cells.csv and statistics.csv"]["risk_before"] > 0.5
            stats = pd.read_csv(directory / "statistics.csv", encoding="utf-8-sig")
            # Read from the file: each cluster's cell and number of comparisons (what a respondent's
            # acquaintance could match on). The clusters in classes of fewer than k on those can only be
            # pseudo-clusters (each of >= k respondents); every other cluster is one respondent.
            per_cluster = stats.groupby("cluster_id").agg(cell=("cell", "first"), comparisons=("wins", "sum"))
            assert len(per_cluster) == clusters["clusters"]
            rare = per_cluster.groupby(["cell", "comparisons"])["cell"].transform("size") < 5
            assert 0 < rare.sum() <= clusters["pseudo_clusters"]
            assert clusters["pooled_respondents"] >= 5 * clusters["pseudo_clusters"]
            respondents = cells["respondents"].astype(int).sum()
            assert respondents == clusters["clusters"] - clusters["pseudo_clusters"] + clusters["pooled_respondents"]
            # Same strengths and scores as the stored run; the intervals move a little.
            assert clusters["same_proposals_and_scores"] is True
            assert clusters["largest_interval_change"] < 0.05
        with capsys.disabled():
            print(f"\n{slug}: k={control['k']} risk before/after: respondents.csv "
                  f"{control['files']['respondents.csv']['risk_before']}/{control['files']['respondents.csv']['risk_after']}"
                  f", cells+statistics {control['files']['cells.csv and statistics.csv']['risk_before']}/"
                  f"{control['files']['cells.csv and statistics.csv']['risk_after']}"
                  + (f", clusters {control['pairwise_clusters']}" if DEMO[slug] == "pairwise" else ""))
        # Codes beside labels.
        assert (people["segment_name"] != "").all() and (people["region_name"] != "").all()
        assert ((people["state"] == "") == (people["state_name"] == "")).all()

        report = frictionless.validate(directory / "datapackage.json")
        assert report.valid, report.flatten(["resource", "type", "note"])[:10]
        assert all(r["profile"] == "tabular-data-resource" for r in package["resources"])
        assert package["licenses"] and package["sources"]


def test_a_broken_file_fails_validation(demo_package: dict[str, Path]):
    directory = demo_package["idmx-2026"]
    statistics = directory / "statistics.csv"
    statistics.write_text(statistics.read_text(encoding="utf-8-sig") + "99999999,0,1,1,1\r\n", encoding="utf-8-sig")
    report = frictionless.validate(directory / "datapackage.json")
    assert not report.valid
    assert "foreign-key" in {e[0] for e in report.flatten(["type"])}


def test_k_is_a_setting(db: Database, tmp_path: Path):
    seeding.seed_demo(db)
    ids = close(db, ["idmx-2026"])
    runs.run_for_consultation(db, ids["idmx-2026"])
    env = {**_env(db, tmp_path), "IDMX_DISCLOSURE_K": "20"}
    out = tmp_path / "k20"
    result = CliRunner().invoke(main, ["export", "consultation", "idmx-2026", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    package = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    assert package["disclosure_control"]["k"] == 20
    people = pd.read_csv(out / "respondents.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert smallest_class(people, ["segment", "region", "state", "votes"]) >= 20
