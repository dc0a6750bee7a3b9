"""Site-wide reads: the published consultations of the home page."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from idmx.consultations import rules
from idmx.db import Database
from idmx.db import models as m


def consultation_listing(db: Database, now: datetime) -> dict[str, list[dict]]:
    """Published consultations grouped into open, upcoming and closed, with participation counts."""
    participants = (
        select(m.Respondent.consultation_id, func.count().label("n"))
        .where(m.Respondent.participated_at.is_not(None))  # visitors who only looked do not count
        .group_by(m.Respondent.consultation_id)
        .subquery()
    )
    proposals = (
        select(m.Proposal.consultation_id, func.count().label("n"))
        .where(m.Proposal.status == m.ProposalStatus.published)
        .group_by(m.Proposal.consultation_id)
        .subquery()
    )
    query = (
        select(
            m.Consultation,
            m.Institution.acronym,
            m.Institution.name_es,
            m.Institution.name_en,
            func.coalesce(participants.c.n, 0).label("participants"),
            func.coalesce(proposals.c.n, 0).label("proposals"),
        )
        .outerjoin(m.Institution, m.Institution.id == m.Consultation.institution_id)
        .outerjoin(participants, participants.c.consultation_id == m.Consultation.id)
        .outerjoin(proposals, proposals.c.consultation_id == m.Consultation.id)
        .where(m.Consultation.status == m.ConsultationStatus.published)
        .order_by(m.Consultation.closes_at.desc(), m.Consultation.id)
    )
    groups: dict[str, list[dict]] = {"open": [], "upcoming": [], "closed": []}
    with db.read() as s:
        for c, acronym, inst_es, inst_en, n_participants, n_proposals in s.execute(query):
            groups[rules.phase(c, now)].append(
                {
                    "consultation": c,
                    "institution": {"acronym": acronym, "name_es": inst_es, "name_en": inst_en} if acronym else None,
                    "participants": n_participants,
                    "proposals": n_proposals,
                }
            )
    groups["open"].sort(key=lambda row: row["consultation"].closes_at)
    groups["upcoming"].sort(key=lambda row: row["consultation"].opens_at)
    return groups
