"""Consultation management for staff: settings, publication, opening and closing, fixed lists, clones.

Every query of a consultation goes through `scope.consultations`, so another institution's consultation
is missing (404). Every write is one transaction with its audit event. Slugs are unique by constraint:
a duplicate surfaces as the database's IntegrityError and becomes a message next to the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idmx.accounts import scope
from idmx.accounts.services import StaffPrincipal
from idmx.audit import record, snapshot
from idmx.consultation_admin import forms
from idmx.consultations import rules
from idmx.consultations.services import ConsultationView
from idmx.db import Database
from idmx.db import models as m
from idmx.errors import Conflict, NotFound
from idmx.i18n import gettext as _
from idmx.ranking import services as rankings

SETTINGS_FIELDS = [
    "slug", "title_es", "title_en", "description_es", "description_en", "institution_id", "voting_method",
    "proposal_mode", "results_visibility", "segment_required", "opens_at", "closes_at",
]
AUDIT_FIELDS = [*SETTINGS_FIELDS, "status", "previous_id"]
CARRIED_PROPOSAL_FIELDS = ["title", "description", "institution_id", "topic_id", "intended_use", "from_fixed_list"]


# --- reading -------------------------------------------------------------------------------------------


def choices(db: Database, who: StaffPrincipal) -> forms.Choices:
    with db.read() as s:
        segments = [tuple(r) for r in s.execute(
            select(m.Segment.code, m.Segment.name_es, m.Segment.name_en).order_by(m.Segment.sort_order, m.Segment.code))]
        states = [tuple(r) for r in s.execute(select(m.State.inegi_code, m.State.name).order_by(m.State.inegi_code))]
        institutions: list[tuple[int, str]] = []
        if who.is_central:
            institutions = [(i, f"{a} · {name}") for i, a, name in s.execute(
                select(m.Institution.id, m.Institution.acronym, m.Institution.name_es).order_by(m.Institution.acronym))]
    return forms.Choices(segments, states, institutions)  # type: ignore[arg-type]


@dataclass
class ListRow:
    consultation: m.Consultation
    institution: str | None
    proposals: int
    pending: int
    phase: rules.Phase


def listing(db: Database, who: StaffPrincipal, now: datetime) -> list[ListRow]:
    counts = (
        select(
            m.Proposal.consultation_id,
            func.count().filter(m.Proposal.status == m.ProposalStatus.published).label("published"),
            func.count().filter(m.Proposal.status == m.ProposalStatus.pending).label("pending"),
        )
        .group_by(m.Proposal.consultation_id)
        .subquery()
    )
    query = scope.consultations(
        select(m.Consultation, m.Institution.acronym, func.coalesce(counts.c.published, 0), func.coalesce(counts.c.pending, 0))
        .outerjoin(m.Institution, m.Institution.id == m.Consultation.institution_id)
        .outerjoin(counts, counts.c.consultation_id == m.Consultation.id)
        .order_by(m.Consultation.created_at.desc(), m.Consultation.id.desc()),
        who,
    )
    with db.read() as s:
        return [ListRow(*row, phase=rules.phase(row[0], now)) for row in s.execute(query).all()]


def _load(s: Session, who: StaffPrincipal, consultation_id: int, *, lock: bool = False) -> m.Consultation:
    query = scope.consultations(select(m.Consultation).where(m.Consultation.id == consultation_id), who)
    c = s.scalar(query.with_for_update() if lock else query)
    if c is None:
        raise NotFound(_("There is no consultation at this address."))
    return c


def _targets(s: Session, consultation_id: int) -> dict[str, dict[str, float] | None]:
    found: dict[str, dict[str, float]] = {}
    for variable, category, target in s.execute(
        select(m.WeightingTarget.variable, m.WeightingTarget.category, m.WeightingTarget.target)
        .where(m.WeightingTarget.consultation_id == consultation_id)
    ):
        found.setdefault(variable, {})[category] = target
    return {v: found.get(v) for v in forms.TARGET_VARIABLES}


@dataclass
class Managed:
    """A consultation as the staff pages show it."""

    consultation: m.Consultation
    institution: str | None
    targets: dict[str, dict[str, float] | None]
    proposals: int
    fixed: int
    previous_slug: str | None
    # Weighting targets nobody who took part belongs to: no ranking until that changes.
    unmet_targets: list[tuple[str, str]] = field(default_factory=list)

    def started(self, now: datetime) -> bool:
        return rules.started(self.consultation, now)

    def phase(self, now: datetime) -> rules.Phase:
        return rules.phase(self.consultation, now)


def get(db: Database, who: StaffPrincipal, consultation_id: int) -> Managed:
    with db.read() as s:
        c = _load(s, who, consultation_id)
        acronym = s.scalar(select(m.Institution.acronym).where(m.Institution.id == c.institution_id)) if c.institution_id else None
        published = m.Proposal.status == m.ProposalStatus.published
        proposals, fixed = s.execute(
            select(func.count().filter(published), func.count().filter(published, m.Proposal.from_fixed_list.is_(True)))
            .where(m.Proposal.consultation_id == c.id)
        ).one()
        previous = s.scalar(select(m.Consultation.slug).where(m.Consultation.id == c.previous_id)) if c.previous_id else None
        managed = Managed(c, acronym, _targets(s, c.id), proposals or 0, fixed or 0, previous)
    managed.unmet_targets = rankings.unmet_targets(db, c.id)
    return managed


def current_form(managed: Managed, choices: forms.Choices) -> forms.ConsultationForm:
    return forms.form_from(managed.consultation, managed.targets, choices)


def preview(db: Database, who: StaffPrincipal, consultation_id: int) -> ConsultationView:
    """The respondent's view of any consultation in scope, drafts included."""
    with db.read() as s:
        c = _load(s, who, consultation_id)
        inst = s.execute(select(m.Institution.acronym, m.Institution.name_es, m.Institution.name_en)
                         .where(m.Institution.id == c.institution_id)).first() if c.institution_id else None
    return ConsultationView(c, {"acronym": inst[0], "name_es": inst[1], "name_en": inst[2]} if inst else None)


# --- settings ------------------------------------------------------------------------------------------


def _is_slug_conflict(exc: IntegrityError) -> bool:
    message = str(exc.orig).lower()
    return "slug" in message and ("unique" in message or "duplicate" in message)


def _slug_taken() -> dict[str, str]:
    return {"slug": _("Another consultation already uses this address. Choose another one.")}


def _write_targets(s: Session, consultation_id: int, targets: dict[str, dict[str, float] | None]) -> None:
    s.execute(delete(m.WeightingTarget).where(m.WeightingTarget.consultation_id == consultation_id))
    rows = [
        {"consultation_id": consultation_id, "variable": variable, "category": code, "target": share}
        for variable, shares in targets.items() if shares
        for code, share in shares.items()
    ]
    if rows:
        s.execute(insert(m.WeightingTarget), rows)


def _plain_targets(targets: dict[str, dict[str, float] | None]) -> dict[str, Any]:
    return {v: targets.get(v) for v in forms.TARGET_VARIABLES}


def create(db: Database, who: StaffPrincipal, form: forms.ConsultationForm, now: datetime) -> tuple[int | None, dict[str, str]]:
    """Store a new draft. Returns (id, {}) or (None, messages by field) with nothing stored."""
    errors = forms.check_rules(form, None, started=False, now=now)
    if errors:
        return None, errors
    try:
        with db.write() as s:
            c = m.Consultation(**{name: form.values[name] for name in SETTINGS_FIELDS},
                               status=m.ConsultationStatus.draft, created_at=now)
            s.add(c)
            s.flush()
            _write_targets(s, c.id, form.targets)
            record(s, actor_id=who.id, action="consultation.create", obj=("consultation", c.id),
                   institution_id=c.institution_id,
                   after={**snapshot(c, AUDIT_FIELDS), "targets": _plain_targets(form.targets)})
            return c.id, {}
    except IntegrityError as exc:
        if _is_slug_conflict(exc):
            return None, _slug_taken()
        raise


def update(
    db: Database, who: StaffPrincipal, consultation_id: int, form: forms.ConsultationForm, choices: forms.Choices,
    now: datetime,
) -> dict[str, str]:
    """Apply an edit. The rules are checked again inside the transaction, against the stored row."""
    try:
        with db.write() as s:
            c = _load(s, who, consultation_id, lock=True)
            targets = _targets(s, c.id)
            current = forms.form_from(c, targets, choices)
            is_started = rules.started(c, now)
            errors = forms.check_rules(form, current, started=is_started, now=now)
            if errors:
                return errors
            changed = forms.changed_fields(form, current)
            new_targets = forms.targets_changed(form, current)
            extended = is_started and "closes_at" in changed
            if extended:
                changed.remove("closes_at")
                record(s, actor_id=who.id, action="consultation.extend", obj=("consultation", c.id),
                       institution_id=c.institution_id, before={"closes_at": c.closes_at},
                       after={"closes_at": form.values["closes_at"]})
                c.closes_at = form.values["closes_at"]
            if changed or new_targets:
                before = snapshot(c, changed)
                for name in changed:
                    setattr(c, name, form.values[name])
                after = snapshot(c, changed)
                if new_targets:
                    before["targets"], after["targets"] = _plain_targets(targets), _plain_targets(form.targets)
                    _write_targets(s, c.id, form.targets)
                record(s, actor_id=who.id, action="consultation.update", obj=("consultation", c.id),
                       institution_id=c.institution_id, before=before, after=after)
            s.flush()
            return {}
    except IntegrityError as exc:
        if _is_slug_conflict(exc):
            return _slug_taken()
        raise


# --- publication, opening and closing -------------------------------------------------------------------


def _transition(s: Session, who: StaffPrincipal, c: m.Consultation, action: str, fields: list[str], **values: Any) -> None:
    before = snapshot(c, fields)
    for name, value in values.items():
        setattr(c, name, value)
    record(s, actor_id=who.id, action=action, obj=("consultation", c.id), institution_id=c.institution_id,
           before=before, after=snapshot(c, fields))


def publish(db: Database, who: StaffPrincipal, consultation_id: int, now: datetime) -> None:
    with db.write() as s:
        c = _load(s, who, consultation_id, lock=True)
        if c.status == m.ConsultationStatus.published:
            return
        if c.closes_at <= now:
            raise Conflict(_("The closing date has passed: set a later one before publishing."))
        _transition(s, who, c, "consultation.publish", ["status"], status=m.ConsultationStatus.published)


def open_now(db: Database, who: StaffPrincipal, consultation_id: int, now: datetime) -> None:
    """Publish, and move the opening date to now if it was in the future."""
    with db.write() as s:
        c = _load(s, who, consultation_id, lock=True)
        if rules.is_open(c, now):
            raise Conflict(_("This consultation is already open."))
        if c.closes_at <= now:
            raise Conflict(_("The closing date has passed: set a later one before opening."))
        _transition(s, who, c, "consultation.open", ["status", "opens_at"],
                    status=m.ConsultationStatus.published, opens_at=min(c.opens_at, now))


def close_now(db: Database, who: StaffPrincipal, consultation_id: int, now: datetime) -> None:
    with db.write() as s:
        c = _load(s, who, consultation_id, lock=True)
        if not rules.is_open(c, now) or c.opens_at >= now:
            raise Conflict(_("Only an open consultation can be closed."))
        _transition(s, who, c, "consultation.close", ["closes_at"], closes_at=now)


# --- fixed lists ----------------------------------------------------------------------------------------


def lookups(db: Database) -> tuple[dict[str, int], dict[str, int]]:
    """Institution ids by upper-case acronym and topic ids by lower-case code, for CSV files."""
    with db.read() as s:
        institutions = {a.upper(): i for i, a in s.execute(select(m.Institution.id, m.Institution.acronym))}
        topics = {c.lower(): i for i, c in s.execute(select(m.Topic.id, m.Topic.code))}
    return institutions, topics


def topics(db: Database) -> list[tuple[str, str, str]]:
    with db.read() as s:
        return [tuple(r) for r in s.execute(select(m.Topic.code, m.Topic.name_es, m.Topic.name_en).order_by(m.Topic.code))]  # type: ignore[misc]


def fixed_proposals(db: Database, who: StaffPrincipal, consultation_id: int) -> list[tuple[int, str]]:
    with db.read() as s:
        c = _load(s, who, consultation_id)
        return [tuple(r) for r in s.execute(  # type: ignore[misc]
            select(m.Proposal.id, m.Proposal.title)
            .where(m.Proposal.consultation_id == c.id, m.Proposal.from_fixed_list.is_(True))
            .order_by(m.Proposal.id)
        )]


def load_fixed_list(
    db: Database, who: StaffPrincipal, consultation_id: int, parsed: forms.FixedList, source: str, now: datetime
) -> list[forms.LineProblem]:
    """Store every proposal of a valid list, published and marked as from the fixed list; or none.

    A title the consultation already has is a problem too, so loading the same file twice adds nothing.
    """
    with db.write() as s:
        c = _load(s, who, consultation_id, lock=True)
        if c.status == m.ConsultationStatus.published and c.closes_at <= now:
            raise Conflict(_("This consultation is closed: its proposals can no longer change."))
        existing = {forms.title_key(t) for t in s.scalars(select(m.Proposal.title).where(m.Proposal.consultation_id == c.id))}
        problems = [
            forms.LineProblem(item.line, "title", _("The consultation already has a proposal with this title."))
            for item in parsed.items if forms.title_key(item.title) in existing
        ]
        if problems:
            return problems
        rows = [
            {"consultation_id": c.id, "title": item.title, "description": item.description,
             "institution_id": item.institution_id, "topic_id": item.topic_id, "intended_use": "",
             "status": m.ProposalStatus.published, "from_fixed_list": True, "hidden_reason": "",
             "created_at": now}
            for item in parsed.items
        ]
        s.execute(insert(m.Proposal), rows)
        record(s, actor_id=who.id, action="consultation.load_proposals", obj=("consultation", c.id),
               institution_id=c.institution_id, after={"source": source, "count": len(rows)})
    return []


# --- the next round of a series -------------------------------------------------------------------------


def clone(db: Database, who: StaffPrincipal, consultation_id: int, form: forms.CloneForm, now: datetime) -> tuple[int | None, dict[str, str]]:
    """A new draft with the source's settings and targets, new slug and dates, and the source's
    proposals that were never answered copied in as new proposals."""
    try:
        with db.write() as s:
            source = _load(s, who, consultation_id)
            values = {name: getattr(source, name) for name in SETTINGS_FIELDS}
            values.update(form.values)
            new = m.Consultation(**values, status=m.ConsultationStatus.draft, previous_id=source.id, created_at=now)
            s.add(new)
            s.flush()
            targets = _targets(s, source.id)
            _write_targets(s, new.id, targets)
            # "Never answered": for now every published proposal (merged and hidden ones are not).
            # TODO(plans issue): also leave out proposals that received an institutional answer.
            carried = [
                {**{name: getattr(p, name) for name in CARRIED_PROPOSAL_FIELDS}, "consultation_id": new.id,
                 "status": m.ProposalStatus.published, "hidden_reason": "", "created_at": now}
                for p in s.scalars(
                    select(m.Proposal)
                    .where(m.Proposal.consultation_id == source.id, m.Proposal.status == m.ProposalStatus.published)
                    .order_by(m.Proposal.id)
                )
            ]
            if carried:
                s.execute(insert(m.Proposal), carried)
            record(s, actor_id=who.id, action="consultation.clone", obj=("consultation", new.id),
                   institution_id=new.institution_id,
                   after={**snapshot(new, AUDIT_FIELDS), "targets": _plain_targets(targets), "carried_proposals": len(carried)})
            return new.id, {}
    except IntegrityError as exc:
        if _is_slug_conflict(exc):
            return None, _slug_taken()
        raise
