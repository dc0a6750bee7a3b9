"""Read queries of the public API: each selects exactly the public columns and returns response Structs.

Public means: published consultations only; published proposals only, with support counts only
while the consultation shows its results; ranking runs only while results are visible; published
IDMX editions only; every plan item with its public status and history (no staff ids).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from idmx import audit, clock, votemodes
from idmx.api import schemas as body
from idmx.api import schemas as out
from idmx.api.pagination import Window, count_and_fetch, slice_list
from idmx.apitokens.services import TokenPrincipal
from idmx.calendar import services as calendar
from idmx.consultations import rules
from idmx.db import Database
from idmx.db import models as m
from idmx.errors import DomainError, NotFound
from idmx.fields import clean_text
from idmx.i18n import gettext as _
from idmx.monitoring import compliance as compliance_
from idmx.monitoring import services as monitoring
from idmx.plans import policy
from idmx.plans import services as plan_store
from idmx.plans.services import answer_of
from idmx.ranking import services as ranking_runs

PREFIX = "/api/v1"




def _ref(acronym: str | None, name_es: str | None, name_en: str | None) -> out.InstitutionRef | None:
    return out.InstitutionRef(acronym, name_es or "", name_en or "") if acronym else None


def _acronym_is(column: Any, acronym: str) -> Any:
    return func.upper(column) == acronym.strip().upper()


@dataclass(frozen=True)
class Found:
    """One page of results."""

    total: int
    items: list[Any]


# --- institutions ---------------------------------------------------------------------------------------------


def _institution_query() -> Select[Any]:
    return (
        select(m.Institution.acronym, m.Institution.name_es, m.Institution.name_en, m.Institution.level,
               m.State.inegi_code)
        .outerjoin(m.State, m.State.id == m.Institution.state_id)
        .order_by(m.Institution.acronym)
    )


def _institution(row: Any) -> out.Institution:
    return out.Institution(row.acronym, row.name_es, row.name_en, row.level.value, row.inegi_code)


def institutions(s: Session, window: Window, level: str | None = None, state: str | None = None) -> Found:
    query = _institution_query()
    if level:
        query = query.where(m.Institution.level == m.Level(level))
    if state:
        query = query.where(m.State.inegi_code == state)
    total, rows = count_and_fetch(s, query, window)
    return Found(total, [_institution(r) for r in rows])


def institution(s: Session, acronym: str) -> out.Institution:
    row = s.execute(_institution_query().where(_acronym_is(m.Institution.acronym, acronym))).first()
    if row is None:
        raise NotFound(_("There is no institution with this acronym."))
    return _institution(row)


def institution_id(s: Session, acronym: str) -> int:
    found = s.scalar(select(m.Institution.id).where(_acronym_is(m.Institution.acronym, acronym)))
    if found is None:
        raise NotFound(_("There is no institution with this acronym."))
    return found


def legal_bases(s: Session) -> list[out.LegalBasis]:
    rows = s.execute(select(m.LegalBasis).order_by(m.LegalBasis.id)).scalars()
    return [out.LegalBasis(b.code, b.name_es, b.name_en, b.article) for b in rows]


# --- consultations --------------------------------------------------------------------------------------------


def _consultation_query() -> Select[Any]:
    previous = aliased(m.Consultation)
    n_proposals = (
        select(func.count()).where(m.Proposal.consultation_id == m.Consultation.id,
                                   m.Proposal.status == m.ProposalStatus.published)
        .correlate(m.Consultation).scalar_subquery()
    )
    return (
        select(m.Consultation, m.Institution.acronym, m.Institution.name_es, m.Institution.name_en,
               previous.slug.label("previous_slug"), n_proposals.label("n_proposals"))
        .outerjoin(m.Institution, m.Institution.id == m.Consultation.institution_id)
        .outerjoin(previous, (previous.id == m.Consultation.previous_id)
                   & (previous.status == m.ConsultationStatus.published))
        .where(m.Consultation.status == m.ConsultationStatus.published)
    )


def _consultation(row: Any, now: datetime) -> out.Consultation:
    c: m.Consultation = row[0]
    return out.Consultation(
        slug=c.slug, title_es=c.title_es, title_en=c.title_en, description_es=c.description_es,
        description_en=c.description_en, institution=_ref(row.acronym, row.name_es, row.name_en),
        voting_method=str(c.voting_method), proposal_mode=c.proposal_mode.value,
        results_visibility=c.results_visibility.value, phase=rules.phase(c, now),  # type: ignore[arg-type]
        results_visible=rules.results_visible(c, now), opens_at=c.opens_at, closes_at=c.closes_at,
        previous=row.previous_slug, proposals=int(row.n_proposals or 0), url=f"{PREFIX}/consultations/{c.slug}",
    )


def consultations(s: Session, window: Window, now: datetime, institution: str | None = None,
                  phase: str | None = None) -> Found:
    c = m.Consultation
    query = _consultation_query().order_by(c.opens_at.desc(), c.id.desc())
    if institution:
        query = query.where(_acronym_is(m.Institution.acronym, institution))
    if phase == "upcoming":
        query = query.where(c.opens_at > now)
    elif phase == "open":
        query = query.where(c.opens_at <= now, c.closes_at > now)
    elif phase == "closed":
        query = query.where(c.closes_at <= now)
    total, rows = count_and_fetch(s, query, window)
    return Found(total, [_consultation(r, now) for r in rows])


def _published_consultation(s: Session, slug: str) -> Any:
    row = s.execute(_consultation_query().where(m.Consultation.slug == slug)).first()
    if row is None:
        raise NotFound(_("There is no consultation at this address."))
    return row


def consultation(s: Session, slug: str, now: datetime) -> out.Consultation:
    return _consultation(_published_consultation(s, slug), now)


def _counts(s: Session, c: m.Consultation, ids: list[int]) -> dict[int, out.ProposalCounts]:
    if not ids:
        return {}
    if votemodes.get(c.voting_method).support == "wins":
        wins = dict(s.execute(
            select(m.PairwiseVote.winner_id, func.count()).where(m.PairwiseVote.winner_id.in_(ids))
            .group_by(m.PairwiseVote.winner_id)
        ).all())
        seen = dict(s.execute(select(m.ComparisonCount.proposal_id, m.ComparisonCount.n)
                              .where(m.ComparisonCount.proposal_id.in_(ids))).all())
        return {i: out.ProposalCounts(votes=int(seen.get(i) or 0), mean_rating=None, wins=int(wins.get(i, 0)))
                for i in ids}
    rows = {pid: (n, mean) for pid, n, mean in s.execute(
        select(m.Vote.proposal_id, func.count(), func.avg(m.Vote.value)).where(m.Vote.proposal_id.in_(ids))
        .group_by(m.Vote.proposal_id)
    ).all()}
    rating = votemodes.get(c.voting_method).support == "mean"
    result = {}
    for i in ids:
        n, mean = rows.get(i, (0, None))
        result[i] = out.ProposalCounts(
            votes=int(n), mean_rating=round(float(mean), 4) if rating and mean is not None else None, wins=None)
    return result


def proposals(s: Session, slug: str, window: Window, now: datetime, institution: str | None = None,
              topic: str | None = None) -> Found:
    c: m.Consultation = _published_consultation(s, slug)[0]
    p = m.Proposal
    query = (
        select(p.id, p.title, p.description, p.from_fixed_list, p.created_at, m.Institution.acronym,
               m.Institution.name_es, m.Institution.name_en, m.Topic.code.label("topic"))
        .outerjoin(m.Institution, m.Institution.id == p.institution_id)
        .outerjoin(m.Topic, m.Topic.id == p.topic_id)
        .where(p.consultation_id == c.id, p.status == m.ProposalStatus.published)
        .order_by(p.id)
    )
    if institution:
        query = query.where(_acronym_is(m.Institution.acronym, institution))
    if topic:
        query = query.where(m.Topic.code == topic)
    total, rows = count_and_fetch(s, query, window)
    counts = _counts(s, c, [r.id for r in rows]) if rules.results_visible(c, now) else {}
    items = [
        out.Proposal(id=r.id, title=r.title, description=r.description,
                     institution=_ref(r.acronym, r.name_es, r.name_en), topic=r.topic,
                     from_fixed_list=r.from_fixed_list, created_at=r.created_at, counts=counts.get(r.id))
        for r in rows
    ]
    return Found(total, items)


# --- ranking runs ---------------------------------------------------------------------------------------------


def _visible_consultation(s: Session, slug: str, now: datetime) -> m.Consultation:
    c: m.Consultation = _published_consultation(s, slug)[0]
    if not rules.results_visible(c, now):
        raise NotFound(_("The results of this consultation are published when it closes."))
    return c


def runs(s: Session, slug: str, window: Window, now: datetime) -> Found:
    c = _visible_consultation(s, slug, now)
    r = m.RankingRun
    query = (select(r.id, r.method, r.fingerprint, r.code_version, r.created_at)
             .where(r.consultation_id == c.id).order_by(r.created_at.desc(), r.id.desc()))
    total, rows = count_and_fetch(s, query, window)
    return Found(total, [
        out.RunSummary(row.id, str(row.method), row.fingerprint, row.code_version, row.created_at,
                       f"{PREFIX}/consultations/{slug}/runs/{row.id}")
        for row in rows
    ])


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def run(s: Session, slug: str, run_id: int, now: datetime) -> out.Run:
    c = _visible_consultation(s, slug, now)
    found = s.scalar(select(m.RankingRun).where(m.RankingRun.id == run_id, m.RankingRun.consultation_id == c.id))
    if found is None:
        raise NotFound(_("There is no ranking run with this number."))
    titles = dict(s.execute(select(m.Proposal.id, m.Proposal.title).where(
        m.Proposal.consultation_id == c.id, m.Proposal.status == m.ProposalStatus.published)).all())
    results = []
    intervals = ranking_runs.rank_intervals_of(s, found)
    for row in found.results:
        pid = int(row["proposal_id"])
        rank = row.get("rank")
        low, high = intervals[row["proposal_id"]]
        results.append(out.RunResult(
            rank=int(rank) if isinstance(rank, (int, float)) else None, proposal_id=pid, title=titles.get(pid),
            score=_float(row.get("score")), ci_low=_float(row.get("ci_low")), ci_high=_float(row.get("ci_high")),
            n_eff=_float(row.get("n_eff")), n_votes=_float(row.get("n_votes")), theta=_float(row.get("theta")),
            rank_low=low, rank_high=high,
        ))
    return out.Run(id=found.id, consultation=slug, method=str(found.method), fingerprint=found.fingerprint,
                   code_version=found.code_version, created_at=found.created_at, params=found.params,
                   summary=found.summary, results=results, segment_ranks=found.segment_ranks)


def run_created_at(s: Session, run_id: int) -> datetime | None:
    return s.scalar(select(m.RankingRun.created_at).where(m.RankingRun.id == run_id))


# --- editions -----------------------------------------------------------------------------------------------


def _edition_query() -> Select[Any]:
    n_items = (select(func.count()).where(m.InfrastructureItem.edition_id == m.Edition.id)
               .correlate(m.Edition).scalar_subquery())
    return select(m.Edition, n_items.label("n_items")).where(m.Edition.status == m.EditionStatus.published)


def _edition_fields(e: m.Edition, n_items: int) -> dict[str, Any]:
    assert e.published_at is not None
    return dict(id=e.id, series=e.series, version=e.version, title_es=e.title_es, title_en=e.title_en,
                notes_es=e.notes_es, previous_id=e.previous_id, published_at=e.published_at,
                answer_business_days=e.answer_business_days, items=int(n_items or 0), url=f"{PREFIX}/editions/{e.id}")


def editions(s: Session, window: Window, series: str | None = None) -> Found:
    query = _edition_query().order_by(m.Edition.published_at.desc(), m.Edition.id.desc())
    if series:
        query = query.where(m.Edition.series == series)
    total, rows = count_and_fetch(s, query, window)
    return Found(total, [out.Edition(**_edition_fields(e, n)) for e, n in rows])


def _published_edition(s: Session, edition_id: int) -> tuple[m.Edition, int]:
    row = s.execute(_edition_query().where(m.Edition.id == edition_id)).first()
    if row is None:
        raise NotFound(_("There is no published IDMX edition with this number."))
    return row[0], row[1]


def edition(s: Session, edition_id: int) -> out.EditionDetail:
    e, n = _published_edition(s, edition_id)
    tiers = s.execute(select(m.EditionTier).where(m.EditionTier.edition_id == e.id).order_by(m.EditionTier.tier)).scalars()
    runs_ = s.execute(
        select(m.EditionRun.ranking_run_id, m.Consultation.slug, m.EditionRun.weight)
        .join(m.RankingRun, m.RankingRun.id == m.EditionRun.ranking_run_id)
        .join(m.Consultation, m.Consultation.id == m.RankingRun.consultation_id)
        .where(m.EditionRun.edition_id == e.id).order_by(m.EditionRun.ranking_run_id)
    ).all()
    return out.EditionDetail(
        **_edition_fields(e, n),
        tiers=[out.Tier(t.tier, t.business_days, t.up_to_rank) for t in tiers],
        runs=[out.EditionRunRef(run_id, slug, float(weight)) for run_id, slug, weight in runs_],
    )


def edition_published_at(s: Session, edition_id: int) -> datetime | None:
    return s.scalar(select(m.Edition.published_at).where(m.Edition.id == edition_id,
                                                         m.Edition.status == m.EditionStatus.published))


def edition_items(s: Session, edition_id: int, window: Window, *, tier: int | None = None,
                  institution: str | None = None, status: str | None = None, day: date | None = None) -> Found:
    _published_edition(s, edition_id)
    day = day or clock.today()
    i = m.InfrastructureItem
    query = (
        select(i, m.Institution.acronym, m.Institution.name_es, m.Institution.name_en, m.PlanItem)
        .outerjoin(m.Institution, m.Institution.id == i.institution_id)
        .outerjoin(m.PlanItem, m.PlanItem.id == i.plan_item_id)
        .where(i.edition_id == edition_id)
        .order_by(i.rank.is_(None), i.rank, i.id)
    )
    if tier is not None:
        query = query.where(i.tier == tier)
    if institution:
        query = query.where(_acronym_is(m.Institution.acronym, institution))
    items = []
    for item, acronym, name_es, name_en, plan in s.execute(query).all():
        public = policy.public_status(answer_of(plan), day).value if plan is not None else None
        if status and public != status:
            continue
        items.append(out.EditionItem(
            id=item.id, rank=item.rank, title=item.title, description=item.description,
            institution=_ref(acronym, name_es, name_en), tier=item.tier, priority=item.priority, ci_low=item.ci_low,
            ci_high=item.ci_high, support_weighted=item.support_weighted, support_raw=item.support_raw,
            plan_item_id=item.plan_item_id, policy_due=plan.policy_due if plan else None,
            due_date=plan.due_date if plan else None, status=public,
        ))
    return Found(len(items), slice_list(items, window))


# --- plans ----------------------------------------------------------------------------------------------------


def _plan_query() -> Select[Any]:
    return (
        select(m.PlanItem, m.Institution.acronym, m.Institution.name_es, m.Institution.name_en,
               m.Topic.code.label("topic"), m.LegalBasis)
        .join(m.Institution, m.Institution.id == m.PlanItem.institution_id)
        .outerjoin(m.Topic, m.Topic.id == m.PlanItem.topic_id)
        .outerjoin(m.LegalBasis, m.LegalBasis.id == m.PlanItem.legal_basis_id)
    )


def _plan_item(row: Any, day: date) -> out.PlanItem:
    p: m.PlanItem = row[0]
    basis: m.LegalBasis | None = row[5]
    return out.PlanItem(
        id=p.id, institution=out.InstitutionRef(row.acronym, row.name_es, row.name_en), source=p.source.value,
        title=p.title, description=p.description, topic=row.topic,
        status=policy.public_status(answer_of(p), day).value, answer=p.status.value, assigned_on=p.assigned_on,
        answer_by=p.answer_by, policy_due=p.policy_due, due_date=p.due_date, late_justification=p.late_justification,
        published_url=p.published_url, catalogue_id=p.catalogue_id, published_on=p.published_on,
        legal_basis=out.LegalBasis(basis.code, basis.name_es, basis.name_en, basis.article) if basis else None,
        denial_explanation=p.denial_explanation, updated_at=p.updated_at, url=f"{PREFIX}/plan-items/{p.id}",
    )


def plan_items(s: Session, window: Window, *, institution: str | None = None, status: str | None = None,
               source: str | None = None, day: date | None = None) -> Found:
    day = day or clock.today()
    query = _plan_query().order_by(m.PlanItem.id)
    if institution:
        query = query.where(m.PlanItem.institution_id == institution_id(s, institution))
    if source:
        query = query.where(m.PlanItem.source == m.PlanSource(source))
    if status is None:
        total, rows = count_and_fetch(s, query, window)
        return Found(total, [_plan_item(r, day) for r in rows])
    # The public status depends on today's date: filter after deriving it.
    items = [item for item in (_plan_item(r, day) for r in s.execute(query).all()) if item.status == status]
    return Found(len(items), slice_list(items, window))


def plan_item(s: Session, item_id: int, day: date | None = None, *, institution_id: int | None = None) -> out.PlanItemDetail:
    day = day or clock.today()
    query = _plan_query().where(m.PlanItem.id == item_id)
    if institution_id is not None:
        query = query.where(m.PlanItem.institution_id == institution_id)
    row = s.execute(query).first()
    if row is None:
        raise NotFound(_("There is no plan item with this number."))
    events = s.execute(select(m.PlanEvent).where(m.PlanEvent.plan_item_id == item_id).order_by(m.PlanEvent.id)).scalars()
    editions_ = s.execute(
        select(m.Edition.id, m.Edition.series, m.Edition.version, m.InfrastructureItem.rank, m.InfrastructureItem.tier)
        .join(m.InfrastructureItem, m.InfrastructureItem.edition_id == m.Edition.id)
        .where(m.InfrastructureItem.plan_item_id == item_id, m.Edition.status == m.EditionStatus.published)
        .order_by(m.Edition.published_at, m.Edition.id)
    ).all()
    return out.PlanItemDetail(
        item=_plan_item(row, day),
        editions=[out.EditionRef(e_id, series, version, rank, tier) for e_id, series, version, rank, tier in editions_],
        history=[out.PlanEvent(kind=e.kind, at=clock.local_date(e.at), from_status=e.from_status,
                               to_status=e.to_status, details=dict(e.details or {})) for e in events],
    )


def plans_last_modified(s: Session, institution: str | None = None) -> datetime | None:
    query = select(func.max(m.PlanItem.updated_at))
    if institution:
        query = query.join(m.Institution, m.Institution.id == m.PlanItem.institution_id).where(
            _acronym_is(m.Institution.acronym, institution))
    return s.scalar(query)


# --- compliance ---------------------------------------------------------------------------------------------


def _counts_out(c: compliance_.StatusCounts) -> out.StatusCounts:
    return out.StatusCounts(**{f.name: getattr(c, f.name) for f in dataclass_fields(compliance_.StatusCounts)})


def compliance(s: Session, *, institution: str | None = None, level: str | None = None,
               day: date | None = None) -> out.Compliance:
    """The same figures as the monitoring page (`idmx.plans.compliance`), optionally for one institution or level."""
    day = day or clock.today()
    levels = dict(s.execute(select(m.Institution.id, m.Institution.level)).all())
    rows = compliance_.summarise(monitoring.load_rows(s, institution_id(s, institution) if institution else None), day)
    if level:
        rows = [r for r in rows if levels[r.institution_id] == m.Level(level)]
    return out.Compliance(
        as_of=day, national=_counts_out(compliance_.national(rows)),
        institutions=[out.InstitutionCompliance(institution=out.InstitutionRef(r.acronym, r.name_es, r.name_en),
                                                level=levels[r.institution_id].value, counts=_counts_out(r))
                      for r in rows],
    )


# --- plan answers through the API: the same state machine and persistence as the HTML forms ------------------
#
# `idmx.plans.services.apply_move` stores the answer, its public history event, the audit record (actor None: no
# staff member) and the followers' notifications; `answer` adds a second audit record naming the token that acted,
# and marks the token used, in the same transaction.


Move = Callable[[policy.Answer], tuple[policy.Answer, policy.Event]]


class TokenRevoked(DomainError):
    status_code = 401


def _legal_basis_id(s: Session, code: str) -> int | None:
    """The basis with this code; None (refused by the state machine, naming the field) when unknown."""
    return s.scalar(select(m.LegalBasis.id).where(m.LegalBasis.code == code.strip()))


def move_for(s: Session, data: object, today: date, item_id: int, off_days: frozenset[date]) -> Move:
    """The state-machine move an answer body asks for, with text cleaned as the HTML forms clean it;
    ``off_days``: the item's institution's non-working days (`idmx.calendar`), as the plan pages use."""
    if isinstance(data, body.CommitBody):
        due, justification = data.due_date, clean_text(data.justification)
        return lambda a: policy.commit(a, due, today, justification, off_days)
    if isinstance(data, body.PublishBody):
        url, catalogue_id = clean_text(data.url), clean_text(data.catalogue_id)
        return lambda a: policy.publish(a, url, today, catalogue_id)
    if isinstance(data, body.DenyBody):
        basis, explanation = _legal_basis_id(s, clean_text(data.legal_basis)), clean_text(data.explanation)
        return lambda a: policy.deny(a, basis, explanation)
    if isinstance(data, body.ReopenBody):
        note = clean_text(data.note)
        # The same time to answer as a reopening through the plan page (idmx.plans.services.reopen).
        days = plan_store.answer_days(s, item_id)
        return lambda a: policy.reopen(a, today, days, note, off_days)
    raise TypeError(f"unknown answer body {type(data).__name__}")


def answer(db: Database, token: TokenPrincipal, item_id: int, action: str, data: object) -> None:
    """Apply one answer to an item of the token's institution (another institution's item: not found)."""
    today = clock.local_date(clock.now())
    with db.write() as s:
        row = s.get(m.ApiToken, token.id)
        if row is None or row.revoked_at is not None:  # revoked since the request was authenticated
            raise TokenRevoked(_("This API token is not valid or has been revoked."))
        row.last_used_at = clock.now()
        item = s.scalar(
            select(m.PlanItem).where(m.PlanItem.id == item_id, m.PlanItem.institution_id == token.institution_id)
            .with_for_update().execution_options(populate_existing=True)  # concurrent answers queue (PostgreSQL)
        )
        if item is None:
            raise NotFound(_("There is no plan item with this number."))
        off_days = calendar.off_days(s, item.institution_id)
        event = plan_store.apply_move(s, item, move_for(s, data, today, item_id, off_days), actor_id=None)
        audit.record(s, actor_id=None, action="api_token.use", obj=("api_token", token.id),
                     institution_id=token.institution_id,
                     after={"token": token.name, "plan_item_id": item_id, "action": action, "event": event.kind})
