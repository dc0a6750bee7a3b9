"""Test data builders: small, explicit consultations and proposals."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from idmx.clock import now as utcnow
from idmx.db import Database
from idmx.db import models as m


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
    """Every row, in primary-key order (PostgreSQL returns heap order otherwise, which reuses space)."""
    with db.read() as s:
        return list(s.scalars(select(model).order_by(*model.__table__.primary_key.columns)))


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

    from idmx.plans import policy
    from idmx.plans import services as plan_items

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
            plan = plan_items.create_item(s, institution_id=inst_id, source=m.PlanSource.idmx, title=title, today=today,
                                     policy_due=policy.add_business_days(today, 65), topic_id=topic_id)
            s.add(m.InfrastructureItem(edition_id=edition.id, key=rank, title=title, description=f"Descripción de {title}",
                                       institution_id=inst_id, topic_id=topic_id, tier=1, rank=rank,
                                       priority=1 - rank / 100, ci_low=0.5 - rank / 100, ci_high=0.9 - rank / 100,
                                       plan_item_id=plan.id))
    return edition


def draft_edition(db: Database, consultation_id: int, proposal_id: int, *, series: str = "idmx-borrador") -> dict[str, int]:
    """A draft IDMX edition drawing on a stored (synthetic) run of `consultation_id`, with one item holding
    `proposal_id`: {"edition_id", "item_id", "run_id"} for routes under /staff/editions."""
    with db.write() as s:
        run = m.RankingRun(consultation_id=consultation_id, method=m.VotingMethod.approval, params={},
                           fingerprint="0" * 64, code_version="test", created_at=utcnow(), summary={},
                           results=[{"rank": 1, "proposal_id": proposal_id, "score": 0.6, "ci_low": 0.5, "ci_high": 0.7,
                                     "n_eff": 10.0, "n_votes": 10}])
        edition = m.Edition(series=series, version=1, title_es="IDMX en borrador", status=m.EditionStatus.draft)
        s.add_all([run, edition])
        s.flush()
        s.add(m.EditionRun(edition_id=edition.id, ranking_run_id=run.id, weight=1.0))
        s.add(m.EditionTier(edition_id=edition.id, tier=1, business_days=65, up_to_rank=None))
        title = s.scalar(select(m.Proposal.title).where(m.Proposal.id == proposal_id))
        item = m.InfrastructureItem(edition_id=edition.id, key=1, title=title, rank=1, tier=1, priority=0.6,
                                    ci_low=0.5, ci_high=0.7, support_weighted=10.0, support_raw=10)
        s.add(item)
        s.flush()
        s.add(m.ItemProposal(item_id=item.id, proposal_id=proposal_id, ranking_run_id=run.id, score=0.6, ci_low=0.5,
                             ci_high=0.7, n_eff=10.0, n_votes=10))
        return {"edition_id": edition.id, "item_id": item.id, "run_id": run.id}
