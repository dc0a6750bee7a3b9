"""Seeds are idempotent, complete, and the demo is deterministic."""

from sqlalchemy import func, select

from idmx import seeding
from idmx.db import models as m

REQUIRED_ACRONYMS = {
    "SFP", "SHCP", "SEGOB", "SE", "SEP", "SSA", "SEMARNAT", "SEDATU", "INEGI", "INAI", "SAT", "RAN", "CRE",
    "INECC", "IMJUVE",
}


def test_reference_data_is_complete(db):
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(m.Segment)) == 6
        states = dict(s.execute(select(m.State.inegi_code, m.State.name)).all())
        assert len(states) == 32 and states["09"] == "Ciudad de México" and states["32"] == "Zacatecas"
        acronyms = set(s.scalars(select(m.Institution.acronym)))
        assert len(acronyms) >= 40 and REQUIRED_ACRONYMS <= acronyms
        levels = set(s.scalars(select(m.Institution.level)))
        assert levels == {m.Level.federal, m.Level.state, m.Level.municipal}
        bases = s.scalars(select(m.LegalBasis)).all()
        assert {"does_not_exist", "other"} <= {b.code for b in bases} or len(bases) >= 5
        assert all(b.name_en and b.name_es for b in bases)
        # The grounds of the 2025 transparency law: reserved information art. 112, confidential art. 115.
        assert any("art. 112" in b.article for b in bases) and any("art. 115" in b.article for b in bases)
        assert all(b.article.startswith("LGTAIP 2025") for b in bases if b.article)


def test_seeding_twice_gives_the_same_counts(db):
    seeding.seed_demo(db)
    first = seeding.counts(db)
    assert seeding.seed_reference(db) == {k: 0 for k in ("segments", "states", "topics", "legal_bases", "institutions")}
    assert seeding.seed_demo(db) == {}
    assert seeding.counts(db) == first
    assert first["respondents"] >= 2000 and first["votes"] > 10_000 and first["pairwise_votes"] > 1000


def _votes_per_title(s):
    return s.execute(
        select(m.Proposal.title, func.count(m.Vote.id))
        .join(m.Vote, m.Vote.proposal_id == m.Proposal.id)
        .group_by(m.Proposal.title)
        .order_by(m.Proposal.title)
    ).all()


def test_demo_is_deterministic_and_one_segment_dominates(db):
    seeding.seed_demo(db)
    with db.read() as s:
        snapshot = _votes_per_title(s)
        shares = s.execute(
            select(m.Segment.code, func.count())
            .join(m.Respondent, m.Respondent.segment_id == m.Segment.id)
            .group_by(m.Segment.code)
        ).all()
    # A second, independent build gives the same votes.
    from tests.conftest import _clean

    _clean(db)
    seeding.seed_demo(db)
    with db.read() as s:
        again = _votes_per_title(s)
    assert snapshot == again
    total = sum(n for _, n in shares)
    top_code, top_n = max(shares, key=lambda row: row[1])
    assert top_code == "public_officials" and top_n / total > 0.4


def test_abolished_institutions_point_to_their_successors_and_reseeding_keeps_them(db):
    """The 2024-25 reforms: INAI, COFECE, IFT, CONEVAL, CRE... keep their rows (old plans stay attached)
    and name the body that took over; seeding again, as on an existing database, changes nothing."""
    from datetime import date

    from sqlalchemy import select
    from sqlalchemy.orm import aliased

    from idmx import seeding
    from idmx.db import models as m

    def links():
        successor = aliased(m.Institution)
        with db.read() as s:
            return dict(
                (acronym, (after, when)) for acronym, after, when in s.execute(
                    select(m.Institution.acronym, successor.acronym, m.Institution.dissolved_on)
                    .join(successor, successor.id == m.Institution.successor_id)
                )
            )

    found = links()
    assert found["INAI"] == ("TPP", date(2025, 3, 21))
    assert found["COFECE"][0] == "CNA" and found["IFT"][0] == "CRT" and found["CONEVAL"][0] == "INEGI"
    assert found["CRE"][0] == "CNE" and found["CNH"][0] == "CNE" and found["SFP"][0] == "SABG"
    with db.read() as s:
        legal = dict(s.execute(select(m.LegalBasis.code, m.LegalBasis.article)).all())
    assert legal["reserved_national_security"] == "LGTAIP 2025 (DOF 20-03-2025), art. 112, fr. I"
    assert legal["confidential_personal_data"].startswith("LGTAIP 2025 (DOF 20-03-2025), art. 115")
    assert seeding.seed_reference(db)["institutions"] == 0
    assert links() == found
