"""Test data builders: small, explicit consultations and proposals."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from idmx.db import Database
from idmx.db import models as m
from idmx.db.types import utcnow


def consultation(db: Database, slug: str = "prueba", *, phase: str = "open", **overrides) -> m.Consultation:
    now = utcnow()
    opens, closes = {
        "open": (now - timedelta(days=1), now + timedelta(days=10)),
        "upcoming": (now + timedelta(days=1), now + timedelta(days=10)),
        "closed": (now - timedelta(days=10), now - timedelta(hours=1)),
    }[phase]
    values = dict(
        slug=slug, title_es="Consulta de prueba", title_en="Test consultation", description_es="Descripción",
        description_en="Description", status=m.ConsultationStatus.published, voting_method=m.VotingMethod.approval,
        proposal_mode=m.ProposalMode.open, results_visibility=m.ResultsVisibility.live, opens_at=opens, closes_at=closes,
    )
    values.update(overrides)
    with db.write() as s:
        c = m.Consultation(**values)
        s.add(c)
    return c


def proposals(db: Database, consultation_id: int, titles: list[str], **overrides) -> list[int]:
    with db.write() as s:
        objs = [m.Proposal(consultation_id=consultation_id, title=t, **overrides) for t in titles]
        s.add_all(objs)
        s.flush()
        return [p.id for p in objs]


def rows(db: Database, model) -> list:
    with db.read() as s:
        return list(s.scalars(select(model)))


TITLES = [
    "Calidad del aire por estación de monitoreo",
    "Precios diarios de gasolina por estación de servicio",
    "Incidencia delictiva por municipio",
    "Contratos de compras públicas",
    "Establecimientos de salud con servicios y horarios",
    "Escuelas públicas con matrícula por grado",
]


def published_edition(db: Database, titles: list[str], *, series: str = "idmx-prueba", version: int = 1,
                      institution: str = "SEMARNAT", topic: str | None = None, published_on=None) -> m.Edition:
    """A published edition whose items are already in `institution`'s plan (tier 1, 65 business days)."""
    from datetime import date

    from idmx.plans import items as plan_items
    from idmx.plans import policy

    today = published_on or date.today()
    with db.write() as s:
        inst_id = s.scalar(select(m.Institution.id).where(m.Institution.acronym == institution))
        topic_id = s.scalar(select(m.Topic.id).where(m.Topic.code == topic)) if topic else None
        edition = m.Edition(series=series, version=version, title_es=f"IDMX de prueba {version}", title_en="Test IDMX",
                            status=m.EditionStatus.published, published_at=utcnow())
        s.add(edition)
        s.flush()
        s.add(m.EditionTier(edition_id=edition.id, tier=1, business_days=65, up_to_rank=None))
        for rank, title in enumerate(titles, start=1):
            plan = plan_items.create(s, institution_id=inst_id, source=m.PlanSource.idmx, title=title, today=today,
                                     policy_due=policy.add_business_days(today, 65), topic_id=topic_id)
            s.add(m.InfrastructureItem(edition_id=edition.id, key=rank, title=title, description=f"Descripción de {title}",
                                       institution_id=inst_id, topic_id=topic_id, tier=1, rank=rank,
                                       priority=1 - rank / 100, ci_low=0.5 - rank / 100, ci_high=0.9 - rank / 100,
                                       plan_item_id=plan.id))
    return edition
