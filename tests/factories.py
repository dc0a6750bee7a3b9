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
