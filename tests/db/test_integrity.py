"""Integrity lives in the database: these writes bypass every form and must still be refused."""

from datetime import timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError, StatementError

from idmx.clock import now as utcnow
from idmx.db import models as m


def _consultation(s, **overrides):
    now = utcnow()
    values = dict(
        slug="integrity", title_es="Consulta", voting_method=m.VotingMethod.approval,
        proposal_mode=m.ProposalMode.open, opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=1),
        status=m.ConsultationStatus.published,
    )
    values.update(overrides)
    c = m.Consultation(**values)
    s.add(c)
    s.flush()
    return c


def _world(db):
    with db.write() as s:
        c = _consultation(s)
        r = m.Respondent(consultation_id=c.id, token_hash="a" * 64)
        p = m.Proposal(consultation_id=c.id, title="Calidad del aire")
        s.add_all([r, p])
        s.flush()
        return c.id, r.id, p.id


def _refused(db, statement, rows):
    with pytest.raises((IntegrityError, StatementError)):
        with db.write() as s:
            s.execute(statement, rows)


def test_one_vote_per_respondent_and_proposal(db):
    cid, rid, pid = _world(db)
    row = {"consultation_id": cid, "respondent_id": rid, "proposal_id": pid, "value": 1}
    with db.write() as s:
        s.execute(insert(m.Vote), [row])
    _refused(db, insert(m.Vote), [row])
    with db.read() as s:
        assert len(s.scalars(select(m.Vote)).all()) == 1


@pytest.mark.parametrize("value", [0, 6, -1])
def test_vote_value_range(db, value):
    cid, rid, pid = _world(db)
    _refused(db, insert(m.Vote), [{"consultation_id": cid, "respondent_id": rid, "proposal_id": pid, "value": value}])


def test_foreign_keys_are_enforced(db):
    cid, rid, _ = _world(db)
    _refused(db, insert(m.Vote), [{"consultation_id": cid, "respondent_id": rid, "proposal_id": 999_999, "value": 1}])


def test_consultation_must_open_before_it_closes(db):
    now = utcnow()
    with pytest.raises(IntegrityError):
        with db.write() as s:
            _consultation(s, slug="backwards", opens_at=now, closes_at=now - timedelta(hours=1))


def test_enumerated_status_is_checked_by_the_database(db):
    cid, _, _ = _world(db)
    with pytest.raises((IntegrityError, StatementError)):
        with db.write() as s:
            s.execute(
                m.Proposal.__table__.update().where(m.Proposal.consultation_id == cid).values(status="deleted")
            )


def test_merged_proposal_needs_a_target_and_pairs_need_two_proposals(db):
    cid, rid, pid = _world(db)
    with pytest.raises(IntegrityError):
        with db.write() as s:
            s.execute(m.Proposal.__table__.update().where(m.Proposal.id == pid).values(status="merged"))
    _refused(db, insert(m.PairwiseVote), [{"consultation_id": cid, "respondent_id": rid, "left_id": pid, "right_id": pid}])


def test_staff_password_must_be_a_hash_and_institution_matches_role(db):
    _refused(db, insert(m.StaffUser), [{"email": "a@b.mx", "password_hash": "hunter2", "role": "central_admin"}])
    _refused(db, insert(m.StaffUser), [{"email": "c@d.mx", "password_hash": "$scrypt$x", "role": "institution_admin"}])
