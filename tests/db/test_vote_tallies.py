"""The vote tallies kept by database triggers (migration 0007), on SQLite and PostgreSQL.

`vote_tallies` holds, per (consultation, proposal, segment, state), the exposures, the supporters
(exposures with an approval vote) and the count, sum and sum of squares of the vote values;
`respondents.n_exposures` / `n_votes` count each respondent's rows. Triggers on exposures, votes and
respondents keep them current. These tests check hand-computed examples, every kind of write (ORM,
Core, multi-row SQL, the vote hot path, merges, profile changes, deletes and cascades), a random
sequence of writes against `tallies.differences` (the recomputation from the rows), the CHECK
constraints and `tallies.rebuild`.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections import Counter

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError

from idmx.clock import now as utcnow
from idmx.consultations import voting
from idmx.db import models as m
from idmx.db.upsert import insert_for
from idmx.moderation.services import merge_proposals
from idmx.ranking import tallies
from tests import factories as f

TITLES = ["Calidad del aire", "Presupuesto federal", "Contratos públicos", "Padrón de escuelas", "Registro de agua"]


# --- helpers ---------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _repair_after(db):
    """Rebuild every consultation's tallies after each test, before `db` empties the tables: a test that
    found (or made) drift must not make the shared database's cleanup trip over the CHECK constraints."""
    yield
    with db.write() as s:
        for cid in s.scalars(select(m.Consultation.id)):
            tallies.rebuild(s, cid)


def _consultation(db, method: m.VotingMethod = m.VotingMethod.approval, n_proposals: int = 2) -> tuple[int, list[int]]:
    c = f.consultation(db, "tally-" + uuid.uuid4().hex[:10], voting_method=method)
    return c.id, f.proposals(db, c.id, TITLES[:n_proposals])


def _token(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def _respondent(s, cid: int, segment_id: int | None = None, state_id: int | None = None, *, token: str | None = None) -> int:
    r = m.Respondent(consultation_id=cid, token_hash=token or _token(uuid.uuid4().hex), segment_id=segment_id,
                     state_id=state_id)
    s.add(r)
    s.flush()
    return r.id


def _reference(db) -> tuple[list[int], list[int]]:
    """Two segment ids and two state ids of the seeded reference data."""
    with db.read() as s:
        segments = list(s.scalars(select(m.Segment.id).order_by(m.Segment.id).limit(2)))
        states = list(s.scalars(select(m.State.id).order_by(m.State.id).limit(2)))
    assert len(segments) == 2 and len(states) == 2, "reference data must be seeded"
    return segments, states


def _tallies(db, cid: int, *, keep_zero: bool = False) -> dict[tuple[int, int, int], tuple[int, int, int, int, int]]:
    """{(proposal, segment_key, state_key): (exposures, supporters, n, total, total_sq)} of one consultation.

    Rows whose values are all 0 (a cell emptied by deletes) are left out unless `keep_zero`.
    """
    with db.read() as s:
        rows = s.execute(
            select(m.VoteTally.proposal_id, m.VoteTally.segment_key, m.VoteTally.state_key, m.VoteTally.exposures,
                   m.VoteTally.supporters, m.VoteTally.n, m.VoteTally.total, m.VoteTally.total_sq)
            .where(m.VoteTally.consultation_id == cid)
        ).all()
    out = {tuple(r[:3]): tuple(int(x) for x in r[3:]) for r in rows}
    return out if keep_zero else {k: v for k, v in out.items() if any(v)}


def _counts(db, cid: int) -> dict[int, tuple[int, int]]:
    with db.read() as s:
        return {r.id: (r.n_exposures, r.n_votes)
                for r in s.execute(select(m.Respondent.id, m.Respondent.n_exposures, m.Respondent.n_votes)
                                   .where(m.Respondent.consultation_id == cid))}


def _differences(db, cid: int) -> list[str]:
    with db.read() as s:
        return tallies.differences(s, cid)


def _vote(s, cid: int, pid: int, rid: int, value: int = 1) -> None:
    s.add(m.Vote(consultation_id=cid, proposal_id=pid, respondent_id=rid, value=value))
    s.flush()


def _expose(s, cid: int, pid: int, rid: int) -> None:
    s.add(m.Exposure(consultation_id=cid, proposal_id=pid, respondent_id=rid))
    s.flush()


# --- 1. a hand-computed approval example ---------------------------------------------------------------


def test_approval_tallies_match_a_hand_computed_example(db):
    cid, (p1, p2) = _consultation(db)
    (seg_a, _), (st_x, st_y) = _reference(db)
    with db.write() as s:
        r1 = _respondent(s, cid, seg_a, st_x)
        r2 = _respondent(s, cid, seg_a, st_x)  # same cell as r1
        r3 = _respondent(s, cid, None, st_y)  # skipped the segment question: segment_key 0
        for rid, pid in [(r1, p1), (r1, p2), (r2, p1), (r3, p1)]:
            _expose(s, cid, pid, rid)
        _vote(s, cid, p1, r1)
        _vote(s, cid, p1, r2)
        _vote(s, cid, p2, r2)  # no exposure of r2 to p2: a vote, but no supporter
    with db.write() as s:
        _vote(s, cid, p2, r3)  # vote first, exposure in a later transaction: becomes a supporter then
    with db.write() as s:
        _expose(s, cid, p2, r3)

    assert _tallies(db, cid, keep_zero=True) == {
        (p1, seg_a, st_x): (2, 2, 2, 2, 2),
        (p2, seg_a, st_x): (1, 0, 1, 1, 1),
        (p1, 0, st_y): (1, 0, 0, 0, 0),
        (p2, 0, st_y): (1, 1, 1, 1, 1),
    }
    assert _counts(db, cid) == {r1: (2, 1), r2: (1, 2), r3: (2, 1)}
    assert _differences(db, cid) == []

    # r2 is now shown p2, on which it already voted: one more exposure and one more supporter.
    with db.write() as s:
        _expose(s, cid, p2, r2)
    assert _tallies(db, cid)[(p2, seg_a, st_x)] == (2, 1, 1, 1, 1)
    # r1 withdraws its approval of p1 (the exposure stays): one supporter and one vote fewer.
    with db.write() as s:
        s.execute(delete(m.Vote).where(m.Vote.respondent_id == r1, m.Vote.proposal_id == p1))
    assert _tallies(db, cid)[(p1, seg_a, st_x)] == (2, 1, 1, 1, 1)
    # r3's exposure to p2 goes: its vote still counts, but not as a supporter.
    with db.write() as s:
        s.execute(delete(m.Exposure).where(m.Exposure.respondent_id == r3, m.Exposure.proposal_id == p2))
    assert _tallies(db, cid)[(p2, 0, st_y)] == (0, 0, 1, 1, 1)
    assert _counts(db, cid) == {r1: (2, 0), r2: (2, 2), r3: (1, 1)}
    assert _differences(db, cid) == []


def test_differences_reports_a_wrong_tally_and_a_wrong_respondent_count(db):
    """The checker itself can fail: every other test relies on it."""
    cid, (p1, _) = _consultation(db)
    with db.write() as s:
        rid = _respondent(s, cid)
        _expose(s, cid, p1, rid)
        _vote(s, cid, p1, rid)
    assert _differences(db, cid) == []
    with db.write() as s:
        s.execute(update(m.VoteTally).where(m.VoteTally.consultation_id == cid).values(exposures=2))
        s.execute(update(m.Respondent).where(m.Respondent.id == rid).values(n_votes=3))
    found = _differences(db, cid)
    assert len(found) == 2
    assert found[0].startswith("tally ") and "'exposures': 2" in found[0]
    assert found[1] == f"respondent {rid}: kept 1 exposures and 3 votes, rows give 1 and 1"


# --- the vote hot path (voting.cast: PostgreSQL writes the exposure in a CTE of the vote statement) --------


def test_hot_path_approval_votes_and_withdrawals(db, request):
    cid, (p1, p2) = _consultation(db)
    slug = f.rows(db, m.Consultation)[-1].slug
    now = utcnow()
    a, b = _token("hot-a"), _token("hot-b")
    voting.cast(db, slug, p1, a, {"support": "1"}, now)  # new respondent, first exposure and vote in one transaction
    voting.cast(db, slug, p2, a, {"support": "1"}, now)
    voting.cast(db, slug, p1, b, {"support": "1"}, now)
    voting.cast(db, slug, p1, a, {"support": "1"}, now)  # the same approval again: no change
    assert _tallies(db, cid) == {(p1, 0, 0): (2, 2, 2, 2, 2), (p2, 0, 0): (1, 1, 1, 1, 1)}
    voting.cast(db, slug, p1, b, {"support": "0"}, now)  # withdraw: the exposure stays
    assert _tallies(db, cid) == {(p1, 0, 0): (2, 1, 1, 1, 1), (p2, 0, 0): (1, 1, 1, 1, 1)}
    voting.cast(db, slug, p2, b, {"support": "0"}, now)  # withdraw what was never given: an exposure only
    voting.cast(db, slug, p1, b, {"support": "1"}, now)
    assert _tallies(db, cid) == {(p1, 0, 0): (2, 2, 2, 2, 2), (p2, 0, 0): (2, 1, 1, 1, 1)}
    with db.read() as s:
        ids = dict(s.execute(select(m.Respondent.token_hash, m.Respondent.id).where(m.Respondent.consultation_id == cid)).all())
    assert _counts(db, cid) == {ids[a]: (2, 2), ids[b]: (2, 1)}
    assert _differences(db, cid) == []


def test_hot_path_withdraws_a_vote_that_had_no_exposure(db, request):
    """A vote stored without an exposure (an import, a row older than exposures) withdrawn via the hot path,
    which on PostgreSQL inserts the exposure and deletes the vote in one statement."""
    cid, (p1, _) = _consultation(db)
    slug = f.rows(db, m.Consultation)[-1].slug
    token = _token("no-exposure")
    with db.write() as s:
        rid = _respondent(s, cid, token=token)
        _vote(s, cid, p1, rid)
    assert _tallies(db, cid) == {(p1, 0, 0): (0, 0, 1, 1, 1)}
    voting.cast(db, slug, p1, token, {"support": "0"}, utcnow())
    assert _tallies(db, cid) == {(p1, 0, 0): (1, 0, 0, 0, 0)}
    assert _differences(db, cid) == []


def test_hot_path_first_approval_in_a_populated_cell_counts_one_supporter(db, request):
    """The hot path's vote on PostgreSQL inserts exposure (CTE) and vote in one statement: when the exposure
    is new, it must be counted once, as must the supporter. (In a cell that already has exposures the double
    count passes the CHECK constraints: silent drift.)"""
    cid, (p1, _) = _consultation(db)
    slug = f.rows(db, m.Consultation)[-1].slug
    with db.write() as s:
        other = _respondent(s, cid)
        _expose(s, cid, p1, other)
    voting.cast(db, slug, p1, _token("populated"), {"support": "1"}, utcnow())
    assert _tallies(db, cid) == {(p1, 0, 0): (2, 1, 1, 1, 1)}
    assert _differences(db, cid) == []


def test_hot_path_approval_after_browsing(db):
    """The usual flow: the list page records the exposures (record_exposures), then the vote finds them."""
    from idmx.consultations.services import record_exposures

    cid, (p1, p2) = _consultation(db)
    slug = f.rows(db, m.Consultation)[-1].slug
    now = utcnow()
    a, b = _token("browse-a"), _token("browse-b")
    record_exposures(db, cid, a, [p1, p2])
    record_exposures(db, cid, b, [p1, p2])
    assert _tallies(db, cid) == {(p1, 0, 0): (2, 0, 0, 0, 0), (p2, 0, 0): (2, 0, 0, 0, 0)}
    voting.cast(db, slug, p1, a, {"support": "1"}, now)
    voting.cast(db, slug, p1, b, {"support": "1"}, now)
    voting.cast(db, slug, p2, b, {"support": "1"}, now)
    voting.cast(db, slug, p1, b, {"support": "0"}, now)
    record_exposures(db, cid, a, [p1, p2])  # shown again: nothing new
    assert _tallies(db, cid) == {(p1, 0, 0): (2, 1, 1, 1, 1), (p2, 0, 0): (2, 1, 1, 1, 1)}
    with db.read() as s:
        ids = dict(s.execute(select(m.Respondent.token_hash, m.Respondent.id).where(m.Respondent.consultation_id == cid)).all())
    assert _counts(db, cid) == {ids[a]: (2, 1), ids[b]: (2, 1)}
    assert _differences(db, cid) == []


def test_hot_path_rating_replaces_the_earlier_rating(db):
    cid, (p1, _) = _consultation(db, m.VotingMethod.rating)
    slug = f.rows(db, m.Consultation)[-1].slug
    now = utcnow()
    voting.cast(db, slug, p1, _token("r1"), {"value": "3"}, now)
    voting.cast(db, slug, p1, _token("r2"), {"value": "5"}, now)
    assert _tallies(db, cid) == {(p1, 0, 0): (0, 0, 2, 8, 34)}
    voting.cast(db, slug, p1, _token("r1"), {"value": "1"}, now)  # ON CONFLICT DO UPDATE: the 3 becomes a 1
    assert _tallies(db, cid) == {(p1, 0, 0): (0, 0, 2, 6, 26)}
    assert _differences(db, cid) == []


# --- 2. rating values, updated and deleted -----------------------------------------------------------------


def test_rating_tallies_follow_inserts_updates_and_deletes(db):
    cid, (p1, p2) = _consultation(db, m.VotingMethod.rating)
    (seg_a, seg_b), (st_x, _) = _reference(db)
    with db.write() as s:
        r1, r2 = _respondent(s, cid, seg_a, st_x), _respondent(s, cid, seg_a, st_x)
        r3 = _respondent(s, cid, seg_b, None)
        _vote(s, cid, p1, r1, 5)
        _vote(s, cid, p1, r2, 3)
        _vote(s, cid, p1, r3, 2)
        _vote(s, cid, p2, r1, 1)
        _vote(s, cid, p2, r3, 4)
    assert _tallies(db, cid) == {
        (p1, seg_a, st_x): (0, 0, 2, 8, 34),
        (p1, seg_b, 0): (0, 0, 1, 2, 4),
        (p2, seg_a, st_x): (0, 0, 1, 1, 1),
        (p2, seg_b, 0): (0, 0, 1, 4, 16),
    }
    # ORM update of one value: 3 -> 4.
    with db.write() as s:
        s.scalar(select(m.Vote).where(m.Vote.respondent_id == r2, m.Vote.proposal_id == p1)).value = 4
    assert _tallies(db, cid)[(p1, seg_a, st_x)] == (0, 0, 2, 9, 41)
    # SQL update of several rows in one statement: every vote of r3 becomes a 5.
    with db.write() as s:
        s.execute(update(m.Vote).where(m.Vote.respondent_id == r3).values(value=5))
    assert _tallies(db, cid)[(p1, seg_b, 0)] == (0, 0, 1, 5, 25)
    assert _tallies(db, cid)[(p2, seg_b, 0)] == (0, 0, 1, 5, 25)
    # Updating a value to the same value changes nothing.
    with db.write() as s:
        s.execute(update(m.Vote).where(m.Vote.respondent_id == r1, m.Vote.proposal_id == p1).values(value=5))
    assert _tallies(db, cid)[(p1, seg_a, st_x)] == (0, 0, 2, 9, 41)
    # Deleting r1's 5 on p1 leaves r2's 4.
    with db.write() as s:
        s.delete(s.scalar(select(m.Vote).where(m.Vote.respondent_id == r1, m.Vote.proposal_id == p1)))
    assert _tallies(db, cid)[(p1, seg_a, st_x)] == (0, 0, 1, 4, 16)
    # Moving a vote to another proposal (UPDATE of proposal_id): out of one tally, into the other.
    with db.write() as s:
        s.execute(update(m.Vote).where(m.Vote.respondent_id == r2, m.Vote.proposal_id == p1).values(proposal_id=p2))
    assert _tallies(db, cid) == {
        (p2, seg_a, st_x): (0, 0, 2, 5, 17),
        (p1, seg_b, 0): (0, 0, 1, 5, 25),
        (p2, seg_b, 0): (0, 0, 1, 5, 25),
    }
    assert _tallies(db, cid, keep_zero=True)[(p1, seg_a, st_x)] == (0, 0, 0, 0, 0)
    assert _counts(db, cid) == {r1: (0, 1), r2: (0, 1), r3: (0, 2)}
    assert _differences(db, cid) == []


# --- 3. a respondent changing cell ---------------------------------------------------------------------------


def test_changing_segment_and_state_moves_the_respondents_rows(db):
    cid, (p1, p2) = _consultation(db)
    (seg_a, seg_b), (st_x, st_y) = _reference(db)
    with db.write() as s:
        mover = _respondent(s, cid, seg_a, st_x)
        stayer = _respondent(s, cid, seg_a, st_x)
        for pid in (p1, p2):
            _expose(s, cid, pid, mover)
        _vote(s, cid, p1, mover)
        _vote(s, cid, p2, mover)  # exposed and voted on both
        _expose(s, cid, p1, stayer)
        _vote(s, cid, p2, stayer)  # voted p2 without exposure
    assert _tallies(db, cid) == {(p1, seg_a, st_x): (2, 1, 1, 1, 1), (p2, seg_a, st_x): (1, 1, 2, 2, 2)}

    # ORM update of the segment.
    with db.write() as s:
        s.get(m.Respondent, mover).segment_id = seg_b
    assert _tallies(db, cid) == {
        (p1, seg_a, st_x): (1, 0, 0, 0, 0), (p2, seg_a, st_x): (0, 0, 1, 1, 1),
        (p1, seg_b, st_x): (1, 1, 1, 1, 1), (p2, seg_b, st_x): (1, 1, 1, 1, 1),
    }
    # SQL update of the state only.
    with db.write() as s:
        s.execute(update(m.Respondent).where(m.Respondent.id == mover).values(state_id=st_y))
    assert _tallies(db, cid) == {
        (p1, seg_a, st_x): (1, 0, 0, 0, 0), (p2, seg_a, st_x): (0, 0, 1, 1, 1),
        (p1, seg_b, st_y): (1, 1, 1, 1, 1), (p2, seg_b, st_y): (1, 1, 1, 1, 1),
    }
    # Both to NULL: key 0 and 0.
    with db.write() as s:
        s.execute(text("UPDATE respondents SET segment_id = NULL, state_id = NULL WHERE id = :r"), {"r": mover})
    assert _tallies(db, cid) == {
        (p1, seg_a, st_x): (1, 0, 0, 0, 0), (p2, seg_a, st_x): (0, 0, 1, 1, 1),
        (p1, 0, 0): (1, 1, 1, 1, 1), (p2, 0, 0): (1, 1, 1, 1, 1),
    }
    # A profile save that rewrites the same values, and an update of other columns: nothing moves.
    with db.write() as s:
        s.execute(update(m.Respondent).where(m.Respondent.id == mover).values(segment_id=None, state_id=None,
                                                                               organisation="Periódico"))
    # Several respondents at once, from different cells into the same one.
    with db.write() as s:
        s.execute(update(m.Respondent).where(m.Respondent.consultation_id == cid).values(segment_id=seg_b, state_id=st_x))
    assert _tallies(db, cid) == {(p1, seg_b, st_x): (2, 1, 1, 1, 1), (p2, seg_b, st_x): (1, 1, 2, 2, 2)}
    # Back from NULL to ids, segment only on one, both on the other, in one statement.
    with db.write() as s:
        s.execute(update(m.Respondent).where(m.Respondent.id == stayer).values(segment_id=None))
        s.execute(text("UPDATE respondents SET segment_id = CASE WHEN id = :a THEN :sa ELSE segment_id END,"
                       " state_id = CASE WHEN id = :b THEN :sy ELSE state_id END WHERE consultation_id = :c"),
                  {"a": mover, "sa": seg_a, "b": stayer, "sy": st_y, "c": cid})
    assert _tallies(db, cid) == {
        (p1, seg_a, st_x): (1, 1, 1, 1, 1), (p2, seg_a, st_x): (1, 1, 1, 1, 1),
        (p1, 0, st_y): (1, 0, 0, 0, 0), (p2, 0, st_y): (0, 0, 1, 1, 1),
    }
    assert _counts(db, cid) == {mover: (2, 2), stayer: (1, 1)}
    assert _differences(db, cid) == []


def test_a_respondent_without_rows_changes_cell_without_creating_tallies(db):
    cid, _ = _consultation(db)
    (seg_a, _), (st_x, _) = _reference(db)
    with db.write() as s:
        rid = _respondent(s, cid)
    with db.write() as s:
        s.execute(update(m.Respondent).where(m.Respondent.id == rid).values(segment_id=seg_a, state_id=st_x))
    assert _tallies(db, cid, keep_zero=True) == {}
    assert _differences(db, cid) == []


# --- 4. merges ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", [m.VotingMethod.approval, m.VotingMethod.rating])
def test_merging_proposals_with_overlapping_voters_keeps_tallies_consistent(db, method):
    cid, (a, b, x) = _consultation(db, method, n_proposals=3)
    (seg_a, seg_b), (st_x, _) = _reference(db)
    approval = method == m.VotingMethod.approval
    val = (lambda v: 1) if approval else (lambda v: v)
    with db.write() as s:
        r1 = _respondent(s, cid, seg_a, st_x)  # voted and saw both A and B
        r2 = _respondent(s, cid, seg_a, st_x)  # voted B only, saw B only
        r3 = _respondent(s, cid, seg_b, None)  # saw A, voted B without seeing it: a supporter of A after the merge
        r4 = _respondent(s, cid, None, None)  # saw B, voted A without seeing it: a supporter of A after the merge
        r5 = _respondent(s, cid, seg_b, None)  # saw both, voted neither; voted X
        for rid, pid in [(r1, a), (r1, b), (r2, b), (r3, a), (r4, b), (r5, a), (r5, b), (r5, x)]:
            _expose(s, cid, pid, rid)
        for rid, pid, v in [(r1, a, 4), (r1, b, 2), (r2, b, 5), (r3, b, 3), (r4, a, 1), (r5, x, 2)]:
            _vote(s, cid, pid, rid, val(v))
    before_x = {k: v for k, v in _tallies(db, cid).items() if k[0] == x}
    with db.write() as s:
        result = merge_proposals(s, a, b)
    assert (result.votes_moved, result.votes_dropped) == (2, 1)
    assert _differences(db, cid) == []
    after = _tallies(db, cid)
    assert not [k for k in after if k[0] == b]  # nothing left on B
    assert {k: v for k, v in after.items() if k[0] == x} == before_x
    if approval:
        assert {k: v for k, v in after.items() if k[0] == a} == {
            (a, seg_a, st_x): (2, 2, 2, 2, 2),  # r1 (once), r2
            (a, seg_b, 0): (2, 1, 1, 1, 1),  # r3 supporter, r5 exposure only
            (a, 0, 0): (1, 1, 1, 1, 1),  # r4
        }
    else:
        assert {k: v for k, v in after.items() if k[0] == a} == {
            (a, seg_a, st_x): (2, 0, 2, 9, 41),  # r1 keeps its 4 on A, r2's 5 moves
            (a, seg_b, 0): (2, 0, 1, 3, 9),
            (a, 0, 0): (1, 1, 1, 1, 1),  # a rating of 1 by an exposed respondent counts as "supported"
        }
    assert _counts(db, cid) == {r1: (1, 1), r2: (1, 1), r3: (1, 1), r4: (1, 1), r5: (2, 1)}


def test_merge_chain_and_later_writes_stay_consistent(db):
    cid, (a, b, c) = _consultation(db, n_proposals=3)
    (seg_a, _), (st_x, _) = _reference(db)
    with db.write() as s:
        rids = [_respondent(s, cid, seg_a if i % 2 else None, st_x if i % 3 else None) for i in range(6)]
        for i, rid in enumerate(rids):
            for j, pid in enumerate((a, b, c)):
                if (i + j) % 2 == 0:
                    _expose(s, cid, pid, rid)
                if (i * j) % 3 != 1:
                    _vote(s, cid, pid, rid)
    with db.write() as s:
        merge_proposals(s, b, c)
    assert _differences(db, cid) == []
    with db.write() as s:
        merge_proposals(s, a, b)
    assert _differences(db, cid) == []
    assert {k[0] for k in _tallies(db, cid)} == {a}
    with db.write() as s:
        s.execute(update(m.Respondent).where(m.Respondent.id.in_(rids[:3])).values(segment_id=None, state_id=st_x))
        s.execute(delete(m.Vote).where(m.Vote.respondent_id == rids[4]))
    assert _differences(db, cid) == []


# --- 5. deletes: respondents, proposals, consultations ---------------------------------------------------------


def _populated(db, method=m.VotingMethod.approval) -> tuple[int, list[int], list[int]]:
    cid, pids = _consultation(db, method, n_proposals=3)
    (seg_a, seg_b), (st_x, st_y) = _reference(db)
    cells = [(seg_a, st_x), (seg_a, st_x), (seg_b, st_y), (None, st_y), (None, None)]
    with db.write() as s:
        rids = [_respondent(s, cid, seg, st) for seg, st in cells]
        for i, rid in enumerate(rids):
            for j, pid in enumerate(pids):
                if (i + j) % 3 != 0:
                    _expose(s, cid, pid, rid)
                if (i + 2 * j) % 4 != 3:
                    _vote(s, cid, pid, rid, 1 if method == m.VotingMethod.approval else 1 + (i + j) % 5)
    assert _differences(db, cid) == []
    return cid, pids, rids


@pytest.mark.parametrize("how", ["orm", "sql"])
def test_deleting_a_respondent_removes_its_contribution(db, how, request):
    cid, _, rids = _populated(db)
    gone = rids[0]  # shares its cell with rids[1]
    with db.read() as s:
        own = {(e.proposal_id) for e in s.scalars(select(m.Exposure).where(m.Exposure.respondent_id == gone))}
    before = _tallies(db, cid)
    with db.write() as s:
        if how == "orm":
            s.delete(s.get(m.Respondent, gone))
        else:
            s.execute(delete(m.Respondent).where(m.Respondent.id == gone))
    assert _differences(db, cid) == []
    after = _tallies(db, cid)
    assert sum(v[0] for v in after.values()) == sum(v[0] for v in before.values()) - len(own)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(m.Vote).where(m.Vote.respondent_id == gone)) == 0
        assert s.scalar(select(func.count()).select_from(m.Exposure).where(m.Exposure.respondent_id == gone)) == 0


def test_deleting_several_respondents_in_one_statement(db, request):
    cid, _, rids = _populated(db, m.VotingMethod.rating)
    with db.write() as s:
        s.execute(delete(m.Respondent).where(m.Respondent.id.in_(rids[1:4])))
    assert _differences(db, cid) == []
    with db.write() as s:
        s.execute(delete(m.Respondent).where(m.Respondent.consultation_id == cid))
    assert _tallies(db, cid) == {}
    assert _differences(db, cid) == []


@pytest.mark.parametrize("how", ["orm", "sql"])
def test_deleting_a_proposal_removes_its_tallies_and_updates_respondent_counts(db, how):
    cid, pids, rids = _populated(db)
    other = {k: v for k, v in _tallies(db, cid).items() if k[0] != pids[1]}
    with db.read() as s:
        on_it = {rid: (s.scalar(select(func.count()).select_from(m.Exposure).where(m.Exposure.respondent_id == rid,
                                                                                  m.Exposure.proposal_id == pids[1])),
                       s.scalar(select(func.count()).select_from(m.Vote).where(m.Vote.respondent_id == rid,
                                                                              m.Vote.proposal_id == pids[1])))
                 for rid in rids}
    assert sum(e + v for e, v in on_it.values()) > 0
    expected_counts = {rid: (e - on_it[rid][0], v - on_it[rid][1]) for rid, (e, v) in _counts(db, cid).items()}
    with db.write() as s:
        if how == "orm":
            s.delete(s.get(m.Proposal, pids[1]))
        else:
            s.execute(delete(m.Proposal).where(m.Proposal.id == pids[1]))
    assert not [k for k in _tallies(db, cid, keep_zero=True) if k[0] == pids[1]]
    assert _tallies(db, cid) == other
    assert _counts(db, cid) == expected_counts
    assert _differences(db, cid) == []  # includes n_exposures / n_votes of every respondent


def test_deleting_a_consultation_removes_its_tallies_and_leaves_others_alone(db, request):
    cid, _, _ = _populated(db)
    kept_cid, _, _ = _populated(db, m.VotingMethod.rating)
    kept = _tallies(db, kept_cid, keep_zero=True)
    kept_counts = _counts(db, kept_cid)
    with db.write() as s:
        s.execute(delete(m.Consultation).where(m.Consultation.id == cid))
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(m.VoteTally).where(m.VoteTally.consultation_id == cid)) == 0
        assert s.scalar(select(func.count()).select_from(m.Respondent).where(m.Respondent.consultation_id == cid)) == 0
    assert _tallies(db, kept_cid, keep_zero=True) == kept
    assert _counts(db, kept_cid) == kept_counts
    assert _differences(db, cid) == [] and _differences(db, kept_cid) == []


# --- 6. random sequences of writes ---------------------------------------------------------------------------

OPS = {  # name: weight
    "expose": 14, "unexpose": 5, "vote": 16, "unvote": 5, "revalue": 6, "move_vote": 3, "move_exposure": 3,
    "cell": 8, "cells": 2, "bulk_unvote": 1, "bulk_unexpose": 1, "bulk_expose": 2, "merge": 2, "new_respondent": 3,
    "drop_respondent": 1, "new_proposal": 2, "drop_proposal": 1,
}


def _random_ops(db, rng: random.Random, cid: int, slug: str, approval: bool, cells, n_ops: int, seen: Counter,
                ops: dict[str, int], *, browse_first: bool) -> None:
    """`n_ops` random writes, in transactions of 1 to 12 writes (or one hot-path vote), checking the tallies
    against the recomputation after each transaction. With `browse_first`, a hot-path approval comes after
    the exposure is recorded (the list page's path), as with a browser; otherwise the vote may bring it."""
    value = (lambda: 1) if approval else (lambda: rng.randint(1, 5))
    done = 0
    while done < n_ops:
        if rng.random() < 0.1:  # the hot path, in its own transaction
            done += 1
            with db.read() as s:
                tokens = list(s.scalars(select(m.Respondent.token_hash).where(m.Respondent.consultation_id == cid)
                                        .order_by(m.Respondent.id)))
                pids = list(s.scalars(select(m.Proposal.id).where(m.Proposal.consultation_id == cid,
                                                                  m.Proposal.status == m.ProposalStatus.published)
                                      .order_by(m.Proposal.id)))
            token, pid = rng.choice(tokens + [_token(f"new-{rng.random()}")]), rng.choice(pids)
            if approval:
                answer = rng.choice([1, 1, None])
                if browse_first:
                    from idmx.consultations.services import record_exposures

                    record_exposures(db, cid, token, [pid])
                voting.cast(db, slug, pid, token, {"support": "1" if answer else "0"}, utcnow())
                seen["cast" if answer else "withdraw"] += 1
            else:
                voting.cast(db, slug, pid, token, {"value": str(value())}, utcnow())
                seen["cast"] += 1
            problems = _differences(db, cid)
            assert problems == [], f"after {done} writes, the last a hot-path vote: {problems}"
            continue
        batch = min(rng.randint(1, 12), n_ops - done)
        done += batch
        with db.write() as s:
            for _ in range(batch):
                seen[_one_random_write(s, rng, cid, approval, value, cells, ops)] += 1
        problems = _differences(db, cid)
        assert problems == [], f"after {done} writes: {problems}"


def _one_random_write(s, rng: random.Random, cid: int, approval: bool, value, cells, ops: dict[str, int]) -> str:
    rids = list(s.scalars(select(m.Respondent.id).where(m.Respondent.consultation_id == cid).order_by(m.Respondent.id)))
    live = list(s.scalars(select(m.Proposal.id).where(m.Proposal.consultation_id == cid,
                                                      m.Proposal.status == m.ProposalStatus.published)
                          .order_by(m.Proposal.id)))
    op = rng.choices(list(ops), weights=list(ops.values()))[0]
    if len(rids) < 3 and op not in ("cell", "cells"):
        op = "new_respondent"
    elif len(live) < 3 and op in ("merge", "drop_proposal"):
        op = "new_proposal"
    rid, pid = rng.choice(rids), rng.choice(live)

    if op == "expose":
        s.execute(insert_for(s, m.Exposure.__table__).on_conflict_do_nothing(),
                  {"respondent_id": rid, "proposal_id": pid, "consultation_id": cid})
    elif op == "unexpose":
        s.execute(delete(m.Exposure).where(m.Exposure.respondent_id == rid, m.Exposure.proposal_id == pid))
    elif op == "vote":
        if rng.random() < 0.5:  # the hot path's upsert, replacing an earlier value
            stmt = insert_for(s, m.Vote.__table__).values(consultation_id=cid, proposal_id=pid, respondent_id=rid,
                                                          value=value(), cast_at=utcnow())
            s.execute(stmt.on_conflict_do_update(index_elements=["respondent_id", "proposal_id"],
                                                 set_={"value": stmt.excluded.value}))
        else:
            s.execute(insert_for(s, m.Vote.__table__).on_conflict_do_nothing(),
                      {"consultation_id": cid, "proposal_id": pid, "respondent_id": rid, "value": value(), "cast_at": utcnow()})
    elif op == "unvote":
        s.execute(delete(m.Vote).where(m.Vote.respondent_id == rid, m.Vote.proposal_id == pid))
    elif op == "revalue":
        if approval:  # approval values are always 1: rewrite another column of all the respondent's votes
            s.execute(update(m.Vote).where(m.Vote.respondent_id == rid).values(cast_at=utcnow()))
        else:
            s.execute(update(m.Vote).where(m.Vote.respondent_id == rid, m.Vote.proposal_id == pid).values(value=value()))
    elif op in ("move_vote", "move_exposure"):  # UPDATE of proposal_id (where the target is free)
        table = m.Vote if op == "move_vote" else m.Exposure
        taken = select(table.respondent_id).where(table.proposal_id == (to := rng.choice(live))).scalar_subquery()
        s.execute(update(table).where(table.respondent_id == rid, table.proposal_id == pid,
                                      table.respondent_id.not_in(taken)).values(proposal_id=to))
    elif op == "cell":
        seg, st = rng.choice(cells)
        if rng.random() < 0.5:
            r = s.get(m.Respondent, rid)
            r.segment_id, r.state_id = seg, st
            s.flush()
        else:
            s.execute(update(m.Respondent).where(m.Respondent.id == rid).values(segment_id=seg))
    elif op == "cells":  # several respondents in one statement
        seg, st = rng.choice(cells)
        some = rng.sample(rids, k=rng.randint(2, len(rids)))
        s.execute(update(m.Respondent).where(m.Respondent.id.in_(some)).values(segment_id=seg, state_id=st))
    elif op == "bulk_unvote":
        s.execute(delete(m.Vote).where(m.Vote.proposal_id == pid, m.Vote.respondent_id.in_(rng.sample(rids, k=3))))
    elif op == "bulk_unexpose":
        s.execute(delete(m.Exposure).where(m.Exposure.respondent_id == rid))
    elif op == "bulk_expose":  # every respondent shown this proposal, in one statement
        s.execute(insert_for(s, m.Exposure.__table__).from_select(
            ["respondent_id", "proposal_id", "consultation_id"],
            select(m.Respondent.id, m.Proposal.id, m.Respondent.consultation_id)
            .join(m.Proposal, m.Proposal.consultation_id == m.Respondent.consultation_id)
            .where(m.Respondent.consultation_id == cid, m.Proposal.id == pid),
        ).on_conflict_do_nothing())
    elif op == "merge":
        a, b = rng.sample(live, 2)
        merge_proposals(s, a, b)
    elif op == "new_respondent":
        _respondent(s, cid, *rng.choice(cells))
    elif op == "drop_respondent":
        if rng.random() < 0.5:
            s.execute(delete(m.Respondent).where(m.Respondent.id == rid))
        else:
            s.delete(s.get(m.Respondent, rid))
            s.flush()
    elif op == "new_proposal":
        s.add(m.Proposal(consultation_id=cid, title=f"Propuesta {rng.randint(0, 10**9)}"))
        s.flush()
    elif op == "drop_proposal":  # (not one that others were merged into: their merged_into_id would dangle)
        s.execute(delete(m.Proposal).where(m.Proposal.id == pid,
                                           ~select(m.Proposal.id).where(m.Proposal.merged_into_id == pid).exists()))
    return op


@pytest.mark.parametrize(
    ("method", "seed", "variant"),
    [
        (m.VotingMethod.approval, 20261127, "everything"),
        (m.VotingMethod.rating, 7, "everything"),
        # Without the writes that hit the PostgreSQL bugs above (respondent deletes, a hot-path approval
        # bringing its own exposure), so that PostgreSQL runs every other kind of write too.
        (m.VotingMethod.approval, 11, "no_known_bugs"),
        (m.VotingMethod.rating, 12, "no_known_bugs"),
    ],
)
def test_random_writes_keep_tallies_equal_to_a_recomputation(db, request, method, seed, variant):
    rng = random.Random(seed)
    approval = method == m.VotingMethod.approval
    ops = OPS if variant == "everything" else {k: v for k, v in OPS.items() if k != "drop_respondent"}
    cid, pids = _consultation(db, method, n_proposals=5)
    slug = next(c.slug for c in f.rows(db, m.Consultation) if c.id == cid)
    (seg_a, seg_b), (st_x, st_y) = _reference(db)
    cells = [(seg_a, st_x), (seg_a, st_y), (seg_b, st_x), (None, st_x), (seg_b, None), (None, None)]
    with db.write() as s:  # a populated start, through the triggers
        for i in range(8):
            rid = _respondent(s, cid, *rng.choice(cells), token=_token(f"{seed}-{i}"))
            for pid in pids:
                if approval and rng.random() < 0.5:
                    _expose(s, cid, pid, rid)
                if rng.random() < 0.4:
                    _vote(s, cid, pid, rid, 1 if approval else rng.randint(1, 5))
    assert _differences(db, cid) == []
    seen: Counter = Counter()
    _random_ops(db, rng, cid, slug, approval, cells, 200, seen, ops, browse_first=variant != "everything")
    # The sequence did exercise every kind of write, and ends with rows (not an empty consultation that trivially agrees).
    assert set(ops) | {"cast"} <= set(seen), seen
    with db.read() as s:
        n_votes = s.scalar(select(func.count()).select_from(m.Vote).where(m.Vote.consultation_id == cid))
        n_exposures = s.scalar(select(func.count()).select_from(m.Exposure).where(m.Exposure.consultation_id == cid))
    assert n_votes >= 10 and (n_exposures >= 10 or not approval), (n_votes, n_exposures)
    tallied = _tallies(db, cid)
    assert sum(v[2] for v in tallied.values()) == n_votes
    assert sum(v[0] for v in tallied.values()) == n_exposures
    assert _differences(db, cid) == []


# --- 7. the CHECK constraints ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "corruption",
    [
        "UPDATE vote_tallies SET supporters = exposures + 1 WHERE consultation_id = :c",
        "UPDATE vote_tallies SET exposures = -1, supporters = 0 WHERE consultation_id = :c",
        "UPDATE vote_tallies SET total = 5 * n + 1 WHERE consultation_id = :c",
        "UPDATE vote_tallies SET total = n - 1 WHERE consultation_id = :c",
        "UPDATE vote_tallies SET total_sq = total - 1 WHERE consultation_id = :c",
        "UPDATE vote_tallies SET total_sq = 5 * total + 1 WHERE consultation_id = :c",
        "UPDATE vote_tallies SET n = -1, total = 0, total_sq = 0 WHERE consultation_id = :c",
        "UPDATE respondents SET n_exposures = -1 WHERE consultation_id = :c",
        "UPDATE respondents SET n_votes = n_votes - 5 WHERE consultation_id = :c",
    ],
    ids=["supporters>exposures", "exposures<0", "total>5n", "total<n", "total_sq<total", "total_sq>5total", "n<0",
         "n_exposures<0", "n_votes<0"],
)
def test_check_constraints_refuse_a_corrupting_write(db, corruption):
    cid, (p1, _) = _consultation(db, m.VotingMethod.rating)
    with db.write() as s:
        rid = _respondent(s, cid)
        _expose(s, cid, p1, rid)
        _vote(s, cid, p1, rid, 3)
    before = _tallies(db, cid, keep_zero=True)
    with pytest.raises(IntegrityError), db.write() as s:
        s.execute(text(corruption), {"c": cid})
    assert _tallies(db, cid, keep_zero=True) == before == {(p1, 0, 0): (1, 0, 1, 3, 9)}
    assert _differences(db, cid) == []


def test_a_trigger_that_would_drive_a_drifted_tally_negative_fails_the_write(db):
    """Drift that satisfies the checks (the vote forgotten) makes the vote's delete fail instead of going unnoticed."""
    cid, (p1, _) = _consultation(db, m.VotingMethod.rating)
    with db.write() as s:
        rid = _respondent(s, cid)
        _vote(s, cid, p1, rid, 2)
    with db.write() as s:
        s.execute(text("UPDATE vote_tallies SET n = 0, total = 0, total_sq = 0 WHERE consultation_id = :c"), {"c": cid})
    assert _differences(db, cid) != []
    with pytest.raises(IntegrityError), db.write() as s:
        s.execute(delete(m.Vote).where(m.Vote.respondent_id == rid))
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(m.Vote).where(m.Vote.respondent_id == rid)) == 1
    with db.write() as s:  # repaired, the delete goes through
        tallies.rebuild(s, cid)
    with db.write() as s:
        s.execute(delete(m.Vote).where(m.Vote.respondent_id == rid))
    assert _tallies(db, cid) == {} and _differences(db, cid) == []


# --- 8. rebuild ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("corruption", ["delete", "shift"])
def test_rebuild_restores_the_tallies_after_corruption(db, corruption):
    cid, pids, rids = _populated(db)
    other_cid, _, _ = _populated(db, m.VotingMethod.rating)
    good, good_counts = _tallies(db, cid, keep_zero=True), _counts(db, cid)
    other = _tallies(db, other_cid, keep_zero=True)
    with db.write() as s:
        if corruption == "delete":
            s.execute(text("DELETE FROM vote_tallies WHERE consultation_id = :c"), {"c": cid})
            s.execute(text("UPDATE respondents SET n_exposures = 0, n_votes = 0 WHERE consultation_id = :c"), {"c": cid})
        else:  # values that pass every check, but wrong
            s.execute(text("UPDATE vote_tallies SET exposures = exposures + 3, supporters = supporters + 1,"
                           " n = n + 1, total = total + 2, total_sq = total_sq + 4 WHERE consultation_id = :c"), {"c": cid})
            s.execute(text("UPDATE respondents SET n_votes = n_votes + 1 WHERE consultation_id = :c"), {"c": cid})
    broken = _differences(db, cid)
    assert len(broken) >= len(good) + len(good_counts) - 1
    with db.write() as s:
        tallies.rebuild(s, cid)
    assert _differences(db, cid) == []
    assert _tallies(db, cid) == {k: v for k, v in good.items() if any(v)}
    assert _counts(db, cid) == good_counts
    assert _tallies(db, other_cid, keep_zero=True) == other  # another consultation is not touched
    # The triggers go on from the rebuilt values.
    with db.write() as s:
        rid = _respondent(s, cid)
        _expose(s, cid, pids[0], rid)
        _vote(s, cid, pids[0], rid)
        s.execute(delete(m.Vote).where(m.Vote.respondent_id == rids[2]))
    assert _differences(db, cid) == []


def test_the_command_line_checks_and_rebuilds_tallies(db, tmp_path):
    from click.testing import CliRunner

    from idmx.cli import main

    cid, _, _ = _populated(db)
    slug = next(c.slug for c in f.rows(db, m.Consultation) if c.id == cid)
    env = {"IDMX_DATABASE_URL": db.url, "IDMX_VAR_DIR": str(tmp_path / "var"), "IDMX_ENV": "test"}
    runner = CliRunner()
    ok = runner.invoke(main, ["db", "tallies", "--consultation", slug], env=env)
    assert ok.exit_code == 0, ok.output
    assert "they match the votes" in ok.output
    with db.write() as s:  # a bulk load with triggers off would leave this
        s.execute(text("DELETE FROM vote_tallies WHERE consultation_id = :c"), {"c": cid})
    broken = runner.invoke(main, ["db", "tallies", "--consultation", slug], env=env)
    assert broken.exit_code == 1
    assert f"{slug}: tally" in broken.output and "difference(s)" in broken.output
    fixed = runner.invoke(main, ["db", "tallies", "--rebuild"], env=env)
    assert fixed.exit_code == 0, fixed.output
    assert _differences(db, cid) == []
    missing = runner.invoke(main, ["db", "tallies", "--consultation", "no-existe"], env=env)
    assert missing.exit_code != 0 and "no consultation with slug 'no-existe'" in missing.output
