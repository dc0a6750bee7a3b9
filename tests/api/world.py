"""A small public world for the API tests: consultations in every phase and visibility, proposals in every
status (hidden and pending ones carry marker words that must never appear in a response), a ranking
run, a published and a draft IDMX edition, plan items of two institutions with answers, and API tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from idmx import clock
from idmx.apitokens import services as tokens
from idmx.clock import now as utcnow
from idmx.db import Database
from idmx.db import models as m
from idmx.plans import policy
from idmx.plans import services as items
from idmx.ranking import services as runs

SECRET = "SECRETOOCULTO"  # in hidden/pending proposals, draft consultations and draft editions only
RESPONDENT_MARK = "ORGANIZACIONPRIVADA"  # respondent organisation: never in the API
OWN, OTHER = "SEMARNAT", "INEGI"


@dataclass
class World:
    inst: dict[str, int] = field(default_factory=dict)
    consultations: dict[str, int] = field(default_factory=dict)
    proposals: dict[str, list[int]] = field(default_factory=dict)
    hidden: list[int] = field(default_factory=list)
    run_id: int = 0
    edition_id: int = 0
    draft_edition_id: int = 0
    plan: dict[str, int] = field(default_factory=dict)
    token: str = ""
    token_id: int = 0
    other_token: str = ""


def _consultation(s, slug: str, phase: str, visibility: m.ResultsVisibility, institution_id: int | None,
                  status: m.ConsultationStatus = m.ConsultationStatus.published) -> m.Consultation:
    now = utcnow()
    opens, closes = {
        "open": (now - timedelta(days=1), now + timedelta(days=10)),
        "upcoming": (now + timedelta(days=1), now + timedelta(days=10)),
        "closed": (now - timedelta(days=10), now - timedelta(hours=1)),
    }[phase]
    title = f"Consulta {slug}" + (f" {SECRET}" if status == m.ConsultationStatus.draft else "")
    c = m.Consultation(slug=slug, title_es=title, title_en=title, status=status, voting_method=m.VotingMethod.approval,
                       proposal_mode=m.ProposalMode.moderated, results_visibility=visibility, opens_at=opens,
                       closes_at=closes, institution_id=institution_id)
    s.add(c)
    s.flush()
    return c


def _proposals_and_votes(s, c: m.Consultation, topic_id: int, institution_id: int) -> tuple[list[int], list[int]]:
    public = [m.Proposal(consultation_id=c.id, title=f"Calidad del aire {i} {c.slug}", institution_id=institution_id,
                         topic_id=topic_id) for i in range(4)]
    secret = [
        m.Proposal(consultation_id=c.id, title=f"Oculta {SECRET} {c.slug}", status=m.ProposalStatus.hidden,
                   hidden_reason=f"spam {SECRET}"),
        m.Proposal(consultation_id=c.id, title=f"Pendiente {SECRET} {c.slug}", status=m.ProposalStatus.pending),
    ]
    s.add_all(public + secret)
    s.flush()
    for i in range(12):
        r = m.Respondent(consultation_id=c.id, token_hash=f"{c.id:08x}{i:056x}", segment_id=1 + i % 3,
                         organisation=RESPONDENT_MARK, use_purpose=RESPONDENT_MARK, participated_at=utcnow())
        s.add(r)
        s.flush()
        for j, p in enumerate(public + secret[:1]):
            s.add(m.Exposure(respondent_id=r.id, proposal_id=p.id, consultation_id=c.id))
            if (i + j) % (j + 2) == 0:
                s.add(m.Vote(consultation_id=c.id, proposal_id=p.id, respondent_id=r.id, value=1))
    return [p.id for p in public], [p.id for p in secret]


def build(db: Database) -> World:
    w = World()
    today = clock.today()
    with db.write() as s:
        w.inst = dict(s.execute(select(m.Institution.acronym, m.Institution.id)
                                .where(m.Institution.acronym.in_([OWN, OTHER]))).all())
        topic_id = s.scalar(select(m.Topic.id).order_by(m.Topic.id).limit(1))
        specs = [
            ("en-vivo", "open", m.ResultsVisibility.live, w.inst[OWN]),
            ("al-cierre", "open", m.ResultsVisibility.after_close, w.inst[OWN]),
            ("cerrada", "closed", m.ResultsVisibility.after_close, None),
            ("proxima", "upcoming", m.ResultsVisibility.after_close, w.inst[OTHER]),
        ]
        for slug, phase, visibility, inst in specs:
            c = _consultation(s, slug, phase, visibility, inst)
            w.consultations[slug] = c.id
            if phase != "upcoming":
                w.proposals[slug], secret = _proposals_and_votes(s, c, topic_id, w.inst[OWN])
                w.hidden += secret
        draft = _consultation(s, "borrador", "open", m.ResultsVisibility.live, None, m.ConsultationStatus.draft)
        w.consultations["borrador"] = draft.id
    # Ranking runs (computed before any hidden proposal could matter: the run ranks published proposals).
    w.run_id = runs.run_for_consultation(db, w.consultations["cerrada"]).id
    runs.run_for_consultation(db, w.consultations["al-cierre"])  # hidden until the consultation closes
    now = utcnow()
    with db.write() as s:
        edition = m.Edition(series="idmx-2030", version=1, title_es="IDMX 2030", title_en="IDMX 2030",
                            notes_es="Primera versión", status=m.EditionStatus.published, published_at=now)
        draft_edition = m.Edition(series="idmx-2031", version=1, title_es=f"Borrador {SECRET}",
                                  status=m.EditionStatus.draft)
        s.add_all([edition, draft_edition])
        s.flush()
        w.edition_id, w.draft_edition_id = edition.id, draft_edition.id
        s.add_all([m.EditionTier(edition_id=edition.id, tier=t, business_days=d, up_to_rank=r)
                   for t, d, r in policy.DEFAULT_TIERS])
        s.add(m.EditionRun(edition_id=edition.id, ranking_run_id=w.run_id, weight=1.0))
        specs2 = [("aire", OWN, 1, 1), ("agua", OWN, 2, 1), ("suelo", OWN, 3, 2), ("censo", OTHER, 4, 2)]
        for key, (name, acronym, rank, tier) in enumerate(specs2, start=1):
            due = policy.add_business_days(today, 65 if tier == 1 else 130)
            plan = items.create_item(s, institution_id=w.inst[acronym], source=m.PlanSource.idmx,
                                title=f"Datos de {name} por municipio", today=today, policy_due=due)
            w.plan[name] = plan.id
            s.add(m.InfrastructureItem(edition_id=edition.id, key=key, title=f"Datos de {name} por municipio",
                                       institution_id=w.inst[acronym], tier=tier, rank=rank, priority=1.0 / rank,
                                       ci_low=0.5 / rank, ci_high=1.5 / rank, support_weighted=10.0 / rank,
                                       support_raw=20 // rank, plan_item_id=plan.id))
        s.add(m.InfrastructureItem(edition_id=draft_edition.id, key=1, title=f"Borrador {SECRET}"))
        own_item = items.create_item(s, institution_id=w.inst[OWN], source=m.PlanSource.own,
                                title="Inventario propio de pozos", today=today)
        w.plan["propio"] = own_item.id
        s.flush()
        agua = s.get(m.PlanItem, w.plan["agua"])
        items.apply_move(s, agua, lambda a: policy.commit(a, today + timedelta(days=30), today), actor_id=None)
        suelo = s.get(m.PlanItem, w.plan["suelo"])
        basis = s.scalar(select(m.LegalBasis.id).order_by(m.LegalBasis.id).limit(1))
        items.apply_move(s, suelo, lambda a: policy.deny(a, basis, "No existe la información"), actor_id=None)
        _row, w.token = tokens.create(s, institution_id=w.inst[OWN], name="Catálogo SEMARNAT", actor_id=None)
        w.token_id = _row.id
        _row2, w.other_token = tokens.create(s, institution_id=w.inst[OTHER], name="Catálogo INEGI", actor_id=None)
    return w


def auth(token: str) -> dict[str, Any]:
    return {"Authorization": f"Bearer {token}"}
