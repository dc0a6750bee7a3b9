"""Sufficient statistics from SQL against brute-force pandas over the raw rows, on both databases."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import insert, select
from tests import factories

from idmx import seeding
from idmx.clock import now as utcnow
from idmx.db import Database
from idmx.db import models as m
from idmx.ranking import pipeline, queries
from idmx.ranking import services as runs
from idmx.statistics import NOT_STATED

DEMO = {"idmx-2027": "approval", "idmx-2026": "rating", "semarnat-ambiente-2027": "pairwise"}


def _table(db: Database, model, consultation_id: int | None = None) -> pd.DataFrame:
    cols = [c.name for c in model.__table__.columns]
    stmt = select(*model.__table__.columns)
    if consultation_id is not None and "consultation_id" in cols:
        stmt = stmt.where(model.__table__.c.consultation_id == consultation_id)
    with db.read() as s:
        return pd.DataFrame(s.execute(stmt).all(), columns=cols)


def _labels(db: Database) -> tuple[dict, dict]:
    with db.read() as s:
        segments = dict(s.execute(select(m.Segment.id, m.Segment.code)).all())
        states = dict(s.execute(select(m.State.id, m.State.inegi_code)).all())
    return segments, states


def brute_force(db: Database, consultation_id: int, method: str) -> dict[str, pd.DataFrame]:
    """Every statistic straight from the raw tables, the slow and obvious way."""
    segments, states = _labels(db)
    resp = _table(db, m.Respondent, consultation_id)
    resp["segment"] = [segments.get(i, NOT_STATED) if pd.notna(i) else NOT_STATED for i in resp["segment_id"]]
    resp["state"] = [states.get(i, NOT_STATED) if pd.notna(i) else NOT_STATED for i in resp["state_id"]]
    resp = resp[["id", "segment", "state"]].rename(columns={"id": "respondent_id"})
    props = _table(db, m.Proposal, consultation_id)
    published = set(props.loc[props["status"] == "published", "id"])
    out: dict[str, pd.DataFrame] = {}
    if method == "approval":
        exp = _table(db, m.Exposure)
        exp = exp[exp["respondent_id"].isin(resp["respondent_id"]) & exp["proposal_id"].isin(published)]
        votes = _table(db, m.Vote, consultation_id)
        supported = set(zip(votes.loc[votes["value"] == 1, "respondent_id"], votes.loc[votes["value"] == 1, "proposal_id"]))
        rows = exp[["respondent_id", "proposal_id"]].copy()
        rows["value"] = [int((r, p) in supported) for r, p in zip(rows["respondent_id"], rows["proposal_id"])]
        rows = rows.merge(resp, on="respondent_id")
        out["stats"] = (rows.groupby(["proposal_id", "segment", "state"])
                        .agg(exposures=("value", "size"), supporters=("value", "sum")).reset_index())
        out["lines"] = rows.sort_values(["respondent_id", "proposal_id"])[["respondent_id", "proposal_id", "value"]]
    elif method == "rating":
        votes = _table(db, m.Vote, consultation_id)
        rows = votes[votes["proposal_id"].isin(published)][["respondent_id", "proposal_id", "value"]].merge(resp, on="respondent_id")
        rows["sq"] = rows["value"] ** 2
        out["stats"] = (rows.groupby(["proposal_id", "segment", "state"])
                        .agg(n=("value", "size"), sum=("value", "sum"), sumsq=("sq", "sum")).reset_index())
        out["lines"] = rows.sort_values(["respondent_id", "proposal_id"])[["respondent_id", "proposal_id", "value"]]
    else:
        pv = _table(db, m.PairwiseVote, consultation_id)
        pv = pv[pv["winner_id"].notna() & pv["left_id"].isin(published) & pv["right_id"].isin(published)].copy()
        pv["winner_id"] = pv["winner_id"].astype(np.int64)
        pv["loser_id"] = np.where(pv["winner_id"] == pv["left_id"], pv["right_id"], pv["left_id"])
        rows = pv[["respondent_id", "winner_id", "loser_id"]].merge(resp, on="respondent_id")
        out["stats"] = rows.groupby(["winner_id", "loser_id", "segment", "state"]).size().rename("wins").reset_index()
        out["clusters"] = rows.groupby(["respondent_id", "winner_id", "loser_id"]).size().rename("wins").reset_index()
        out["lines"] = rows.sort_values(["respondent_id", "winner_id", "loser_id"])[["respondent_id", "winner_id", "loser_id"]]
    if method == "approval":  # shown any proposal, hidden ones included
        anyone = _table(db, m.Exposure, consultation_id)["respondent_id"]
    elif method == "rating":
        anyone = _table(db, m.Vote, consultation_id)["respondent_id"]
    else:
        anyone = rows["respondent_id"]
    voters = resp[resp["respondent_id"].isin(anyone)]
    out["cells"] = voters.groupby(["segment", "state"]).size().rename("respondents").reset_index()
    out["respondents"] = voters.sort_values("respondent_id")
    return out


def _same(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    expected = expected[list(actual.columns)].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        actual.reset_index(drop=True).astype(expected.dtypes.to_dict()), expected, check_dtype=False
    )


def _tallies(s, consultation_id: int, method: str) -> pd.DataFrame:
    """`queries.tally_rows` labelled and sorted like the brute-force statistics. The packed read
    (what a run uses when every cell fits) and the plain one must give the same rows."""
    rows = queries.tally_rows(s, consultation_id, method)
    packed = queries.tally_rows(s, consultation_id, method, max_cell_respondents=1000)
    np.testing.assert_array_equal(packed[np.lexsort(packed.T[::-1])], rows[np.lexsort(rows.T[::-1])])
    labels = queries.category_labels(s)
    names = pipeline.VALUES[method]
    frame = pd.DataFrame(rows, columns=["proposal_id", "segment_key", "state_key", *names])
    frame["segment"] = [labels["segment"][k or None] for k in frame.pop("segment_key")]
    frame["state"] = [labels["state"][k or None] for k in frame.pop("state_key")]
    return frame[["proposal_id", "segment", "state", *names]].sort_values(["proposal_id", "segment", "state"], ignore_index=True)


def _check(db: Database, consultation_id: int, method: str) -> None:
    expected = brute_force(db, consultation_id, method)
    with db.read() as s:
        queries.consistent_snapshot(s)
        cells = queries.respondent_cells(s, consultation_id, method)
        if method != "pairwise":
            stats = _tallies(s, consultation_id, method)
        else:
            stats = queries.pairwise_wins(s, consultation_id)
            clusters = queries.pairwise_clusters(s, consultation_id)
        respondents = [r for batch in queries.iter_respondent_rows(s, consultation_id, method, batch=7) for r in batch]
        keys = queries.respondent_keys(s, consultation_id, method)
        labels = queries.category_labels(s)
        lines = b"".join(queries.iter_vote_rows(s, consultation_id, method, batch=11)).decode()
    _same(cells[["segment", "state", "respondents"]], expected["cells"])
    _same(stats, expected["stats"])
    if method == "pairwise":
        _same(clusters, expected["clusters"])
    assert respondents == list(expected["respondents"].itertuples(index=False, name=None))
    assert [(r, labels["segment"][g or None], labels["state"][t or None]) for r, g, t in keys.tolist()] == respondents
    exp_lines = "".join(f"{a},{b},{c}\n" for a, b, c in expected["lines"].itertuples(index=False, name=None))
    assert lines == exp_lines


@pytest.mark.slow
def test_statistics_equal_brute_force_on_the_demo(db: Database):
    seeding.seed_demo(db)
    with db.read() as s:
        ids = dict(s.execute(select(m.Consultation.slug, m.Consultation.id)).all())
        # Moderation happened: one hidden and one merged proposal must drop out everywhere.
        for slug in DEMO:
            pids = list(s.scalars(select(m.Proposal.id).where(m.Proposal.consultation_id == ids[slug]).order_by(m.Proposal.id)))
            assert len(pids) > 4
    with db.write() as s:
        for slug in DEMO:
            pids = list(s.scalars(select(m.Proposal.id).where(m.Proposal.consultation_id == ids[slug]).order_by(m.Proposal.id)))
            s.get(m.Proposal, pids[0]).status = m.ProposalStatus.hidden
            merged = s.get(m.Proposal, pids[1])
            merged.status, merged.merged_into_id = m.ProposalStatus.merged, pids[2]
    for slug, method in DEMO.items():
        _check(db, ids[slug], method)


def _respondent(s, cid: int, n: int, segment: str | None, state: str | None) -> int:
    seg = s.scalar(select(m.Segment.id).where(m.Segment.code == segment)) if segment else None
    st = s.scalar(select(m.State.id).where(m.State.inegi_code == state)) if state else None
    r = m.Respondent(consultation_id=cid, token_hash=f"{n:064x}", segment_id=seg, state_id=st)
    s.add(r)
    s.flush()
    return r.id


def test_approval_edge_cases_by_hand(db: Database):
    """Hidden, pending and merged proposals drop out; skipped questions are `not_stated`; a vote
    without an exposure is not counted; respondents who only saw unpublished proposals still are
    respondents of the ranking (hiding a proposal does not change who is weighted)."""
    c = factories.consultation(db, "aprobacion")
    a, b, hidden, pending = factories.proposals(db, c.id, factories.TITLES[:4])
    with db.write() as s:
        s.get(m.Proposal, hidden).status = m.ProposalStatus.hidden
        s.get(m.Proposal, pending).status = m.ProposalStatus.pending
        r1 = _respondent(s, c.id, 1, "academia", "09")
        r2 = _respondent(s, c.id, 2, None, None)
        r3 = _respondent(s, c.id, 3, "academia", "09")
        r4 = _respondent(s, c.id, 4, "citizens", "14")  # only saw the hidden proposal: weighted, no rows
        exposures = [(r1, a), (r1, b), (r1, hidden), (r2, a), (r3, b), (r4, hidden)]
        s.execute(insert(m.Exposure), [{"respondent_id": r, "proposal_id": p, "consultation_id": c.id} for r, p in exposures])
        votes = [(r1, a), (r1, hidden), (r2, a), (r3, a)]  # r3 supports a without an exposure row
        s.execute(insert(m.Vote), [{"consultation_id": c.id, "proposal_id": p, "respondent_id": r, "value": 1} for r, p in votes])
    with db.read() as s:
        cells = queries.respondent_cells(s, c.id, "approval")
        stats = _tallies(s, c.id, "approval")
        lines = b"".join(queries.iter_vote_rows(s, c.id, "approval")).decode()
    assert cells[["segment", "state", "respondents"]].values.tolist() == [
        ["academia", "09", 2], ["citizens", "14", 1], [NOT_STATED, NOT_STATED, 1],
    ]
    assert stats.values.tolist() == [
        [a, "academia", "09", 1, 1], [a, NOT_STATED, NOT_STATED, 1, 1], [b, "academia", "09", 2, 0],
    ]
    assert lines == f"{r1},{a},1\n{r1},{b},0\n{r2},{a},1\n{r3},{b},0\n"
    _check(db, c.id, "approval")


def test_rating_and_pairwise_edge_cases_by_hand(db: Database):
    rating = factories.consultation(db, "calificacion", voting_method=m.VotingMethod.rating)
    pairs = factories.consultation(db, "pares", voting_method=m.VotingMethod.pairwise)
    ra, rb, rhidden = factories.proposals(db, rating.id, factories.TITLES[:3])
    pa, pb, pc, phidden = factories.proposals(db, pairs.id, factories.TITLES[:4])
    now = utcnow()
    with db.write() as s:
        s.get(m.Proposal, rhidden).status = m.ProposalStatus.hidden
        s.get(m.Proposal, phidden).status = m.ProposalStatus.hidden
        x = _respondent(s, rating.id, 10, "journalists", "01")
        y = _respondent(s, rating.id, 11, "journalists", "01")
        s.execute(insert(m.Vote), [
            {"consultation_id": rating.id, "proposal_id": p, "respondent_id": r, "value": v}
            for r, p, v in [(x, ra, 5), (x, rb, 2), (y, ra, 3), (y, rhidden, 1)]
        ])
        u = _respondent(s, pairs.id, 20, "citizens", None)
        v = _respondent(s, pairs.id, 21, "private_sector", "19")
        w = _respondent(s, pairs.id, 22, "private_sector", "19")  # only undecided or hidden pairs
        # One answer per respondent and pair (the database keeps it so); pc beat by pb shown as "pc | pb".
        rows = [
            (u, pa, pb, pa), (u, pc, pb, pb), (u, pc, pa, None),
            (v, pa, pc, pc), (v, pb, pc, pb), (w, pa, pb, None), (w, pa, phidden, pa),
        ]
        s.execute(insert(m.PairwiseVote), [
            {"consultation_id": pairs.id, "respondent_id": r, "left_id": left, "right_id": right, "winner_id": win,
             "cast_at": now + timedelta(seconds=i)}
            for i, (r, left, right, win) in enumerate(rows)
        ])
    with db.read() as s:
        rstats = _tallies(s, rating.id, "rating")
        wins = queries.pairwise_wins(s, pairs.id)
        clusters = queries.pairwise_clusters(s, pairs.id)
        pcells = queries.respondent_cells(s, pairs.id, "pairwise")
        plines = b"".join(queries.iter_vote_rows(s, pairs.id, "pairwise")).decode()
    assert rstats.values.tolist() == [[ra, "journalists", "01", 2, 8, 34], [rb, "journalists", "01", 1, 2, 4]]
    assert pcells[["segment", "state", "respondents"]].values.tolist() == [["citizens", NOT_STATED, 1], ["private_sector", "19", 1]]
    assert wins.values.tolist() == [
        [pa, pb, "citizens", NOT_STATED, 1], [pb, pc, "citizens", NOT_STATED, 1],
        [pb, pc, "private_sector", "19", 1], [pc, pa, "private_sector", "19", 1],
    ]
    assert clusters.values.tolist() == [[u, pa, pb, 1], [u, pb, pc, 1], [v, pb, pc, 1], [v, pc, pa, 1]]
    assert plines == f"{u},{pa},{pb}\n{u},{pb},{pc}\n{v},{pb},{pc}\n{v},{pc},{pa}\n"
    _check(db, rating.id, "rating")
    _check(db, pairs.id, "pairwise")
    # A run counts the same clusters from its single stream of canonical rows, with the respondents
    # numbered in the canonical order (by cell first: citizens u is 1, private_sector v is 2).
    stream = runs._read_db_inputs(db, pairs.id, pipeline.RunParams()).inputs.stats
    canonical = {u: 1, v: 2}
    expected = [[canonical[r], a, b, n] for r, a, b, n in clusters.values.tolist()]
    assert stream[["respondent_id", "winner_id", "loser_id", "wins"]].values.tolist() == expected


def test_stored_targets(db: Database):
    c = factories.consultation(db, "metas")
    with db.write() as s:
        s.add_all([
            m.WeightingTarget(consultation_id=c.id, variable="state", category="09", target=9.2e6),
            m.WeightingTarget(consultation_id=c.id, variable="segment", category="citizens", target=0.75),
            m.WeightingTarget(consultation_id=c.id, variable="segment", category="academia", target=0.25),
        ])
    with db.read() as s:
        targets = queries.stored_targets(s, c.id)
        assert queries.stored_targets(s, c.id + 1000).empty
    assert targets.values.tolist() == [["segment", "academia", 0.25], ["segment", "citizens", 0.75], ["state", "09", 9.2e6]]
