"""Ranking runs: stored, immutable, reproducible from their exported inputs; weighting matters."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import insert, select
from tests import factories

from idmx import seeding
from idmx.db import Database
from idmx.db import models as m
from idmx.ranking import files, pipeline
from idmx.ranking import services as runs
from idmx.statistics import RankingError

DEMO = {"idmx-2027": "approval", "idmx-2026": "rating", "semarnat-ambiente-2027": "pairwise"}


@pytest.fixture
def demo(db: Database) -> dict[str, int]:
    seeding.seed_demo(db)
    with db.read() as s:
        return dict(s.execute(select(m.Consultation.slug, m.Consultation.id)).all())


def _floats(rows: list[dict]) -> np.ndarray:
    keys = [k for k in rows[0] if k not in ("rank", "proposal_id")]
    return np.array([[np.nan if r[k] is None else r[k] for k in keys] for r in rows], dtype=float)


@pytest.mark.slow
def test_a_run_is_reproduced_from_its_exported_files(db: Database, demo, tmp_path):
    for slug, method in DEMO.items():
        params = pipeline.RunParams(ridge=0.5, confidence=0.9, cap=4.0) if method == "pairwise" else pipeline.RunParams()
        run = runs.run_for_consultation(db, demo[slug], params)
        assert run.method == method and len(run.fingerprint) == 64
        assert run.code_version and run.params["targets_source"] == "default"
        written = runs.write_inputs(db, demo[slug], tmp_path / slug)
        assert written.fingerprint == run.fingerprint

        # Respondents are numbered 1..N in the canonical order, never by their database ids.
        r_ids = pd.read_csv(written.respondents, dtype=str)["respondent_id"].astype(int).tolist()
        assert r_ids == list(range(1, len(r_ids) + 1))

        again = pipeline.rank_files(written.respondents, written.votes, method, written.targets,
                                pipeline.RunParams(method=method, cap=params.cap, ridge=params.ridge, confidence=params.confidence))
        assert again.fingerprint == run.fingerprint
        assert [r["proposal_id"] for r in again.rows] == [r["proposal_id"] for r in run.results]
        np.testing.assert_allclose(_floats(again.rows), _floats(run.results), rtol=1e-9, atol=0)
        assert files.render_ranking(again.rows) == files.render_ranking(run.results)
        # The weights of the file run are the run's cell weights.
        cell_w = {(c["segment"], c["state"]): c["weight"] for c in run.summary["cell_weights"]}
        r = pd.read_csv(written.respondents, dtype=str, keep_default_na=False)
        expected = np.array([cell_w[(a, b)] for a, b in zip(r["segment"], r["state"])])
        np.testing.assert_allclose(np.round(again.respondent_weights, 10), expected, rtol=1e-12)


def _small_rating(db: Database, slug: str = "repetible") -> tuple[m.Consultation, list[int]]:
    c = factories.consultation(db, slug, voting_method=m.VotingMethod.rating)
    pids = factories.proposals(db, c.id, factories.TITLES[:3])
    with db.write() as s:
        rids = []
        for i in range(6):
            r = m.Respondent(consultation_id=c.id, token_hash=f"{i:064x}", segment_id=1 + i % 2)
            s.add(r)
            s.flush()
            rids.append(r.id)
        s.execute(insert(m.Vote), [
            {"consultation_id": c.id, "proposal_id": p, "respondent_id": r, "value": 1 + (i * 7 + j) % 5}
            for i, r in enumerate(rids) for j, p in enumerate(pids)
        ])
    return c, pids


def test_same_inputs_same_fingerprint_and_results_new_vote_changes_it(db: Database):
    c, pids = _small_rating(db)
    first = runs.run_for_consultation(db, c.id)
    second = runs.run_for_consultation(db, c.id)
    assert first.id != second.id
    assert (first.fingerprint, first.results, first.params) == (second.fingerprint, second.results, second.params)
    assert runs.latest_run(db, c.id).id == second.id
    with db.write() as s:
        s.add(m.Vote(consultation_id=c.id, proposal_id=pids[0], respondent_id=_new_respondent(s, c.id), value=5))
    third = runs.run_for_consultation(db, c.id)
    assert third.fingerprint != first.fingerprint
    assert runs.latest_run(db, c.id, "rating").id == third.id
    assert runs.latest_run(db, c.id, "approval") is None


def _new_respondent(s, cid: int) -> int:
    r = m.Respondent(consultation_id=cid, token_hash="f" * 64, segment_id=1)
    s.add(r)
    s.flush()
    return r.id


def test_runs_are_immutable(db: Database):
    c, _ = _small_rating(db)
    run = runs.run_for_consultation(db, c.id)
    with pytest.raises(RuntimeError, match="immutable"), db.write() as s:
        stored = s.get(m.RankingRun, run.id)
        stored.fingerprint = "0" * 64
    with db.read() as s:
        assert s.get(m.RankingRun, run.id).fingerprint == run.fingerprint


@pytest.mark.slow
def test_weighting_visibly_changes_the_national_ranking(db: Database, demo, tmp_path):
    """Public officials are 46 % of the demo respondents; equal segment shares down-weight them."""
    run = runs.run_for_consultation(db, demo["idmx-2027"])
    weights = {c["segment"]: c["weight"] for c in run.summary["cell_weights"]}
    assert weights["public_officials"] < 0.5
    assert weights["civil_society"] > 1.5
    assert run.summary["deff"] > 1.2

    written = runs.write_inputs(db, demo["idmx-2027"], tmp_path)
    unweighted = pipeline.rank_files(written.respondents, written.votes, "approval")  # no targets: equal weights
    weighted_order = [r["proposal_id"] for r in run.results]
    unweighted_order = [r["proposal_id"] for r in unweighted.rows]
    assert weighted_order != unweighted_order
    top = {r["proposal_id"]: r["rank"] for r in unweighted.rows}
    moves = [abs(r["rank"] - top[r["proposal_id"]]) for r in run.results[:15]]
    assert max(moves) >= 3, moves
    # Per-segment ranks are stored side by side with the overall one.
    assert run.segment_ranks and {"rank_overall", "rank_public_officials", "rank_not_stated"} <= set(run.segment_ranks[0])
    ranks = [v for row in run.segment_ranks for k, v in row.items() if k.startswith("rank_")]
    assert all(v is None or type(v) is int for v in ranks)  # never "3.0" where a segment lacks a rank


def test_stored_targets_are_used_and_recorded(db: Database, demo, tmp_path):
    cid = demo["idmx-2027"]
    with db.read() as s:
        segments = list(s.scalars(select(m.Segment.code).order_by(m.Segment.code)))
    shares = {code: (i + 1.0) for i, code in enumerate(segments)} | {"not_stated": 0.5}
    with db.write() as s:
        s.add_all([m.WeightingTarget(consultation_id=cid, variable="segment", category=k, target=v) for k, v in shares.items()])
    run = runs.run_for_consultation(db, cid, pipeline.RunParams(cap=5.0))
    assert run.params["targets_source"] == "consultation"
    assert run.params["cap"] == 5.0
    assert sorted((c, t) for _, c, t in run.params["targets"]) == sorted(shares.items())
    written = runs.write_inputs(db, cid, tmp_path)
    t = pd.read_csv(written.targets, dtype=str)
    assert dict(zip(t["category"], t["target"].astype(float))) == shares
    again = pipeline.rank_files(written.respondents, written.votes, "approval", written.targets, pipeline.RunParams(cap=5.0))
    assert again.fingerprint == run.fingerprint and again.rows == run.results

    # State targets only: the default equal segment shares are added (DESIGN section 3).
    with db.write() as s:
        s.execute(m.WeightingTarget.__table__.delete().where(m.WeightingTarget.consultation_id == cid))
        s.add(m.WeightingTarget(consultation_id=cid, variable="state", category="09", target=1.0))
    with pytest.raises(RankingError, match="state"):  # other states have respondents but no target
        runs.run_for_consultation(db, cid)


def test_state_targets_add_default_segment_shares(db: Database):
    c = factories.consultation(db, "estados", voting_method=m.VotingMethod.rating)
    (pid,) = factories.proposals(db, c.id, factories.TITLES[:1])
    with db.write() as s:
        states = dict(s.execute(select(m.State.inegi_code, m.State.id)).all())
        cells = [(1, "09", 5), (1, "09", 4), (1, "14", 2), (2, "09", 3), (2, "14", 1)]
        for i, (seg, st, value) in enumerate(cells):
            r = m.Respondent(consultation_id=c.id, token_hash=f"{i:064x}", segment_id=seg, state_id=states[st])
            s.add(r)
            s.flush()
            s.add(m.Vote(consultation_id=c.id, proposal_id=pid, respondent_id=r.id, value=value))
        s.add_all([m.WeightingTarget(consultation_id=c.id, variable="state", category="09", target=1.0),
                   m.WeightingTarget(consultation_id=c.id, variable="state", category="14", target=1.0)])
    run = runs.run_for_consultation(db, c.id)
    assert run.params["targets_source"] == "consultation+default segment shares"
    variables = {v for v, _, _ in run.params["targets"]}
    assert variables == {"segment", "state"}
    assert run.summary["weighting"]["converged"]


def test_nothing_to_rank_and_wrong_method_are_errors(db: Database):
    c = factories.consultation(db, "vacia")
    factories.proposals(db, c.id, factories.TITLES[:2])
    with pytest.raises(RankingError, match="nothing to rank"):
        runs.run_for_consultation(db, c.id)
    with pytest.raises(RankingError, match="cannot be ranked as pairwise"):
        runs.run_for_consultation(db, c.id, pipeline.RunParams(method="pairwise"))
    with pytest.raises(RankingError, match="no consultation"):
        runs.run_for_consultation(db, c.id + 999)


def test_compute_is_the_same_in_a_worker_thread(db: Database):
    c, _ = _small_rating(db)
    read = runs._read_db_inputs(db, c.id, pipeline.RunParams())
    here = pipeline.compute_ranking(read.inputs, pipeline.RunParams())
    with ThreadPoolExecutor(max_workers=2) as pool:
        there = list(pool.map(lambda _: pipeline.compute_ranking(read.inputs, pipeline.RunParams()), range(2)))
    assert all(t.rows == here.rows for t in there)


def test_pseudonymised_export_gives_the_same_ranking(db: Database, demo, tmp_path):
    cid = demo["semarnat-ambiente-2027"]
    run = runs.run_for_consultation(db, cid)
    written = runs.write_inputs(db, cid, tmp_path, respondent_id=lambda i: f"p{i * 7919 % 100003:05d}")
    assert written.fingerprint == run.fingerprint  # respondent ids are labels: the fingerprint ignores them
    r = pd.read_csv(written.respondents, dtype=str)
    assert r["respondent_id"].str.startswith("p").all()
    again = pipeline.rank_files(written.respondents, written.votes, "pairwise", written.targets)
    assert [x["proposal_id"] for x in again.rows] == [x["proposal_id"] for x in run.results]
    np.testing.assert_allclose(_floats(again.rows), _floats(run.results), rtol=1e-9, atol=1e-12)
    assert again.fingerprint == run.fingerprint


def test_segment_targets_without_not_stated_keep_the_skippers_share(db):
    """Staff set targets for the six sectors; people who skipped the question keep their sample share."""
    from sqlalchemy import insert, select
    from tests import factories as f

    from idmx.clock import now as utcnow
    from idmx.db import models as m
    from idmx.ranking import services as runs

    c = f.consultation(db, slug="targets-not-stated")
    (pid,) = f.proposals(db, c.id, ["Calidad del aire por estación"])
    with db.write() as s:
        segs = dict(s.execute(select(m.Segment.code, m.Segment.id)).all())
        for code in segs:
            s.add(m.WeightingTarget(consultation_id=c.id, variable="segment", category=code, target=1 / 6))
        for i, seg in enumerate(["academia"] * 3 + ["citizens"] * 5 + [None] * 2):
            r = m.Respondent(consultation_id=c.id, token_hash=f"{i:064d}", segment_id=segs.get(seg), participated_at=utcnow())
            s.add(r)
            s.flush()
            s.execute(insert(m.Exposure), [{"respondent_id": r.id, "proposal_id": pid, "consultation_id": c.id}])
    # Only two sectors answered, but every target category must have respondents: set the others to 0.
    with db.write() as s:
        s.execute(m.WeightingTarget.__table__.update().where(
            m.WeightingTarget.consultation_id == c.id,
            m.WeightingTarget.category.notin_(["academia", "citizens"])).values(target=0.0))
        s.execute(m.WeightingTarget.__table__.update().where(
            m.WeightingTarget.consultation_id == c.id,
            m.WeightingTarget.category.in_(["academia", "citizens"])).values(target=0.5))
    run = runs.run_for_consultation(db, c.id)
    targets = {(v, cat): t for v, cat, t in run.params["targets"]}
    assert abs(targets[("segment", "not_stated")] - 0.2) < 1e-12
    assert abs(targets[("segment", "academia")] - 0.4) < 1e-12 and abs(targets[("segment", "citizens")] - 0.4) < 1e-12
