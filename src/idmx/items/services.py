"""What a plan item's public page shows: queries that select exactly that, shaped as plain data.

Never staff names or e-mail addresses: the history says what changed and when, not who typed it.
Support comes from the published IDMX editions the item is on (their `ItemProposal` rows, the
proposals' scores as the edition stored them) or, for an item from an institution's own consultation,
from that consultation's latest ranking run once its results are public.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from idmx import clock, i18n, votemodes
from idmx.consultations import rules
from idmx.db import Database
from idmx.db import models as m
from idmx.db.upsert import insert_for
from idmx.errors import NotFound
from idmx.i18n import gettext as _
from idmx.i18n import localised
from idmx.notify import links
from idmx.notify import services as outbox
from idmx.plans import policy
from idmx.plans import services as items
from idmx.plans.labels import event_label, source_label, status_label
from idmx.statistics import NOT_STATED

PublicStatus = policy.PublicStatus



def edition_url(series: str, version: int) -> str:
    return f"/idmx/{quote(series, safe='')}/v{version}"


@dataclass(frozen=True)
class EditionRef:
    series: str
    version: int
    title: str
    url: str
    rank: int | None
    tier: int | None
    priority: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class SegmentRank:
    code: str
    name: str
    rank: int
    of: int  # proposals ranked in that segment


@dataclass(frozen=True)
class SupportRow:
    proposal_id: int
    title: str
    hidden: bool
    consultation_slug: str
    consultation_title: str
    n_eff: float
    n_votes: int
    rank: int | None = None
    of: int | None = None
    segments: list[SegmentRank] = field(default_factory=list)


@dataclass(frozen=True)
class Support:
    """The support behind the item from one edition, or from its consultation's ranking run."""

    heading: str
    rows: list[SupportRow]
    total_n_eff: float
    total_n_votes: int
    method_note: str = ""


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    kind: str
    label: str
    from_status: str | None
    to_status: str
    due_date: date | None = None
    previous_due_date: date | None = None
    answer_by: date | None = None
    policy_due: date | None = None
    late_justification: str = ""
    url: str = ""
    catalogue_id: str = ""
    published_on: date | None = None
    legal_basis: str = ""
    explanation: str = ""
    note: str = ""
    reason: str = ""  # why the central team rejected a claimed publication
    problem: str = ""  # what the link check found (e.g. "HTTP 404")


@dataclass(frozen=True)
class ItemPage:
    item: m.PlanItem
    institution: m.Institution
    topic: m.Topic | None
    legal_basis: m.LegalBasis | None
    today: date
    status: PublicStatus
    status_label: str
    source_label: str
    late: bool  # committed to a date later than the policy allows (the justification is shown as such)
    editions: list[EditionRef]
    support: list[Support]
    history: list[HistoryEntry]


# --- the page ---------------------------------------------------------------------------------------------


def item_page(db: Database, item_id: int, today: date | None = None) -> ItemPage:
    today = today or clock.today()
    with db.read() as s:
        row = s.execute(
            select(m.PlanItem, m.Institution).join(m.Institution, m.Institution.id == m.PlanItem.institution_id)
            .where(m.PlanItem.id == item_id)
        ).first()
        if row is None:
            raise NotFound(_("This item does not exist."))
        item, institution = row
        topic = s.get(m.Topic, item.topic_id) if item.topic_id else None
        basis = s.get(m.LegalBasis, item.legal_basis_id) if item.legal_basis_id else None
        status = policy.public_status(items.answer_of(item), today)
        editions, infra_ids = _editions(s, item.id)
        segment_names = _segment_names(s)
        support = [_edition_support(s, ref, infra_id, segment_names) for ref, infra_id in zip(editions, infra_ids)]
        support = [block for block in support if block.rows]
        if item.proposal_id is not None:
            block = _consultation_support(s, item.proposal_id, segment_names)
            if block is not None:
                support.append(block)
        history = _history(s, item.id)
    late = bool(item.late_justification) and item.due_date is not None and item.policy_due is not None \
        and item.due_date > item.policy_due
    return ItemPage(
        item=item, institution=institution, topic=topic, legal_basis=basis, today=today, status=status,
        status_label=status_label(status), source_label=source_label(item.source), late=late,
        editions=editions, support=support, history=history,
    )



def _editions(s: Session, item_id: int) -> tuple[list[EditionRef], list[int]]:
    """Published editions that list the item, newest first, with the item's row id in each."""
    rows = s.execute(
        select(m.Edition, m.InfrastructureItem)
        .join(m.InfrastructureItem, m.InfrastructureItem.edition_id == m.Edition.id)
        .where(m.InfrastructureItem.plan_item_id == item_id, m.Edition.status == m.EditionStatus.published)
        .order_by(m.Edition.published_at.desc(), m.Edition.id.desc())
    ).all()
    refs = [
        EditionRef(e.series, e.version, localised(e.title_es, e.title_en), edition_url(e.series, e.version),
                   infra.rank, infra.tier, infra.priority, infra.ci_low, infra.ci_high)
        for e, infra in rows
    ]
    return refs, [infra.id for _e, infra in rows]


def _segment_names(s: Session) -> dict[str, str]:
    rows = s.execute(select(m.Segment.code, m.Segment.name_es, m.Segment.name_en).order_by(m.Segment.sort_order)).all()
    names = {code: localised(es, en) for code, es, en in rows}
    names[NOT_STATED] = _("Not stated")
    return names


def _segment_table(segment_ranks: list[dict[str, Any]] | None) -> tuple[dict[int, dict[str, Any]], dict[str, int]]:
    """The run's per-segment ranks by proposal id, and how many proposals each segment ranked."""
    by_id: dict[int, dict[str, Any]] = {}
    counts: dict[str, int] = {}
    for rec in segment_ranks or []:
        try:
            by_id[int(rec["proposal_id"])] = rec
        except (KeyError, TypeError, ValueError):
            continue
        for key, value in rec.items():
            if key.startswith("rank_") and _rank(value) is not None:
                counts[key[5:]] = counts.get(key[5:], 0) + 1
    return by_id, counts


def _rank(value: Any) -> int | None:
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _segments_of(rec: dict[str, Any] | None, counts: dict[str, int], names: dict[str, str]) -> list[SegmentRank]:
    if not rec:
        return []
    out = []
    for key, value in rec.items():
        code = key[5:]
        if not key.startswith("rank_") or code == "overall" or _rank(value) is None:
            continue
        out.append(SegmentRank(code, names.get(code, code), _rank(value) or 0, counts.get(code, 0)))
    return sorted(out, key=lambda r: (r.code == NOT_STATED, r.name))


def _edition_support(s: Session, ref: EditionRef, infra_id: int, names: dict[str, str]) -> Support:
    rows = s.execute(
        select(m.ItemProposal, m.Proposal.title, m.Proposal.status, m.Consultation.slug, m.Consultation.title_es,
               m.Consultation.title_en)
        .join(m.Proposal, m.Proposal.id == m.ItemProposal.proposal_id)
        .join(m.Consultation, m.Consultation.id == m.Proposal.consultation_id)
        .where(m.ItemProposal.item_id == infra_id)
        .order_by(m.ItemProposal.n_eff.desc(), m.ItemProposal.proposal_id)
    ).all()
    run_ids = {link.ranking_run_id for link, *_rest in rows}
    runs = {
        run_id: _segment_table(segment_ranks)
        for run_id, segment_ranks in s.execute(
            select(m.RankingRun.id, m.RankingRun.segment_ranks).where(m.RankingRun.id.in_(run_ids))
        ).all()
    } if run_ids else {}
    support_rows = []
    for link, title, status, slug, c_es, c_en in rows:
        by_id, counts = runs.get(link.ranking_run_id, ({}, {}))
        rec = by_id.get(link.proposal_id)
        support_rows.append(SupportRow(
            proposal_id=link.proposal_id, title=title, hidden=status == m.ProposalStatus.hidden,
            consultation_slug=slug, consultation_title=localised(c_es, c_en), n_eff=float(link.n_eff),
            n_votes=int(link.n_votes), rank=_rank(rec.get("rank_overall")) if rec else None,
            of=counts.get("overall") if rec else None, segments=_segments_of(rec, counts, names),
        ))
    return Support(
        heading=_("Support in %(edition)s") % {"edition": ref.title},
        rows=support_rows,
        total_n_eff=sum(r.n_eff for r in support_rows),
        total_n_votes=sum(r.n_votes for r in support_rows),
    )


def _consultation_support(s: Session, proposal_id: int, names: dict[str, str]) -> Support | None:
    """Support from the proposal's consultation: its latest run, once the results are public."""
    row = s.execute(
        select(m.Proposal.title, m.Proposal.status, m.Consultation)
        .join(m.Consultation, m.Consultation.id == m.Proposal.consultation_id)
        .where(m.Proposal.id == proposal_id)
    ).first()
    if row is None:
        return None
    title, status, c = row
    if not rules.results_visible(c, clock.now()):
        return None
    run = s.execute(
        select(m.RankingRun.id, m.RankingRun.results, m.RankingRun.segment_ranks)
        .where(m.RankingRun.consultation_id == c.id, m.RankingRun.method == c.voting_method)
        .order_by(m.RankingRun.created_at.desc(), m.RankingRun.id.desc()).limit(1)
    ).first()
    if run is None:
        return None
    result = next((r for r in run.results or [] if _rank(r.get("proposal_id")) == proposal_id), None)
    if result is None:
        return None
    by_id, counts = _segment_table(run.segment_ranks)
    rec = by_id.get(proposal_id)
    support_row = SupportRow(
        proposal_id=proposal_id, title=title, hidden=status == m.ProposalStatus.hidden, consultation_slug=c.slug,
        consultation_title=localised(c.title_es, c.title_en), n_eff=float(result.get("n_eff") or 0.0),
        n_votes=int(result.get("n_votes") or 0), rank=_rank(result.get("rank")), of=len(run.results or []),
        segments=_segments_of(rec, counts, names),
    )
    return Support(
        heading=_("Support in %(consultation)s") % {"consultation": support_row.consultation_title},
        rows=[support_row], total_n_eff=support_row.n_eff, total_n_votes=support_row.n_votes,
        method_note=_("Per-sector ranks are not computed for pairwise consultations.")
        if votemodes.get(c.voting_method).statistics == "pairwise" else "",
    )


def _as_date(value: Any) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _history(s: Session, item_id: int) -> list[HistoryEntry]:
    events = items.item_history(s, item_id)
    basis_ids = {e.details.get("legal_basis_id") for e in events if (e.details or {}).get("legal_basis_id")}
    bases = {
        b.id: (localised(b.name_es, b.name_en) + (f" ({b.article})" if b.article else ""))
        for b in s.scalars(select(m.LegalBasis).where(m.LegalBasis.id.in_(basis_ids)))
    } if basis_ids else {}
    out = []
    for e in events:
        d = e.details or {}
        url = str(d.get("url") or "")
        out.append(HistoryEntry(
            at=e.at, kind=e.kind, label=event_label(e.kind), from_status=e.from_status, to_status=e.to_status,
            due_date=_as_date(d.get("due_date")), previous_due_date=_as_date(d.get("previous_due_date")),
            answer_by=_as_date(d.get("answer_by")), policy_due=_as_date(d.get("policy_due")),
            late_justification=str(d.get("late_justification") or ""),
            url=url if url.startswith(("http://", "https://")) else "",
            catalogue_id=str(d.get("catalogue_id") or ""), published_on=_as_date(d.get("published_on")),
            legal_basis=bases.get(d.get("legal_basis_id"), "") if d.get("legal_basis_id") else "",
            explanation=str(d.get("explanation") or ""), note=str(d.get("note") or ""),
            reason=str(d.get("reason") or ""), problem=str(d.get("problem") or ""),
        ))
    return out


# --- the visitor's followed items (cookie) ----------------------------------------------------------------


@dataclass(frozen=True)
class FollowedItem:
    id: int
    title: str
    institution_acronym: str
    status: PublicStatus
    status_label: str
    due_date: date | None


def followed_items(db: Database, ids: list[int], today: date | None = None) -> list[FollowedItem]:
    """The items behind a follow cookie, newest followed first; ids that no longer exist are skipped."""
    if not ids:
        return []
    today = today or clock.today()
    with db.read() as s:
        rows = s.execute(
            select(m.PlanItem, m.Institution.acronym)
            .join(m.Institution, m.Institution.id == m.PlanItem.institution_id)
            .where(m.PlanItem.id.in_(ids))
        ).all()
    by_id = {item.id: (item, acronym) for item, acronym in rows}
    out = []
    for item_id in reversed(ids):
        if item_id not in by_id:
            continue
        item, acronym = by_id[item_id]
        status = policy.public_status(items.answer_of(item), today)
        out.append(FollowedItem(item.id, item.title, acronym, status, status_label(status), item.due_date))
    return out


def item_exists(db: Database, item_id: int) -> None:
    """NotFound unless the plan item exists."""
    with db.read() as s:
        if s.scalar(select(m.PlanItem.id).where(m.PlanItem.id == item_id)) is None:
            raise NotFound(_("This item does not exist."))


# --- following by e-mail ----------------------------------------------------------------------------------
#
# One row per (item, address), enforced by a unique index and INSERT ... ON CONFLICT, so repeating a request never
# duplicates a row. The answer is the same whether the address was new, waiting for confirmation or already
# confirmed, so the form does not reveal who follows what. A new or still unconfirmed follow gets a confirmation
# e-mail with a fresh token (only its SHA-256 is kept); nothing else is ever sent to an unconfirmed address.
# --------------------------------------------------------------------------------


def follow_item(db: Database, item_id: int, email: str, language: str) -> None:
    """Follow a plan item by e-mail (already normalised). Same effect and answer whatever existed before."""
    with db.write() as s:
        item = s.get(m.PlanItem, item_id)
        if item is None:
            raise NotFound(_("This item does not exist."))
        token = secrets.token_urlsafe(32)
        token_hash = links.hash_token(token)
        language = language if language in i18n.LANGUAGES else i18n.DEFAULT
        inserted = s.execute(
            insert_for(s, m.Follow.__table__)
            .values(plan_item_id=item_id, email=email, token_hash=token_hash, language=language, created_at=clock.now())
            .on_conflict_do_nothing(index_elements=["plan_item_id", "email"])
            .returning(m.Follow.__table__.c.id)  # rowcount is -1 here on PostgreSQL: ask for the row instead
        ).scalar_one_or_none()
        if inserted is None:
            # Already there: resend the confirmation (with a new token) only while it is unconfirmed.
            rotated = s.execute(
                update(m.Follow)
                .where(m.Follow.plan_item_id == item_id, m.Follow.email == email, m.Follow.confirmed_at.is_(None))
                .values(token_hash=token_hash, language=language)
            ).rowcount
            if not rotated:
                return
        _queue_confirmation(s, item, email, language, token)


def _queue_confirmation(s: Session, item: m.PlanItem, email: str, language: str, token: str) -> None:
    lang_token = i18n.activate(language)
    try:
        subject = _("Confirm that you want to follow “%(title)s”") % {"title": item.title}
        body = "\n\n".join([
            _("Someone, probably you, asked to receive an e-mail on IDMX whenever the answer to “%(title)s” changes.")
            % {"title": item.title},
            _("To confirm, open this link and press the button:") + "\n" + links.absolute(links.confirm_path(token)),
            _("If it was not you, ignore this message: without confirmation nothing else will be sent to this address."),
            _("The item:") + "\n" + links.absolute(links.item_path(item.id)),
            "-- \n" + _("To remove your address now:") + "\n" + links.absolute(links.unsubscribe_path(token)),
        ]) + "\n"
    finally:
        i18n.deactivate(lang_token)
    outbox.add(s, email, subject, body)


@dataclass(frozen=True)
class FollowView:
    """What the confirm and unsubscribe pages show. Never the address: the link may have been forwarded."""

    id: int
    plan_item_id: int | None
    data_request_id: int | None
    title: str
    confirmed_at: datetime | None


def _find(s: Session, token: str) -> m.Follow | None:
    signed = links.split_signed(token)
    if signed is not None:
        follow = s.get(m.Follow, signed[0])
        if follow is None or not links.signature_matches(follow.id, follow.token_hash, signed[1]):
            return None
        return follow
    if not 20 <= len(token) <= 100:
        return None
    return s.scalar(select(m.Follow).where(m.Follow.token_hash == links.hash_token(token)))


def _title(s: Session, follow: m.Follow) -> str:
    if follow.plan_item_id is not None:
        return s.scalar(select(m.PlanItem.title).where(m.PlanItem.id == follow.plan_item_id)) or ""
    return s.scalar(select(m.DataRequest.title).where(m.DataRequest.id == follow.data_request_id)) or ""


def find(db: Database, token: str) -> FollowView:
    """The follow a confirm or unsubscribe link points at; NotFound when the link is unknown or used up."""
    with db.read() as s:
        follow = _find(s, token)
        if follow is None:
            raise NotFound(_("This link is not valid any more: the address may have been removed already."))
        return FollowView(follow.id, follow.plan_item_id, follow.data_request_id, _title(s, follow), follow.confirmed_at)


def confirm(db: Database, token: str) -> FollowView:
    """Confirm a follow (idempotent). Only the raw token of the confirmation e-mail confirms."""
    if links.split_signed(token) is not None:
        raise NotFound(_("This link is not valid any more: the address may have been removed already."))
    with db.write() as s:
        follow = _find(s, token)
        if follow is None:
            raise NotFound(_("This link is not valid any more: the address may have been removed already."))
        if follow.confirmed_at is None:
            follow.confirmed_at = clock.now()
        return FollowView(follow.id, follow.plan_item_id, follow.data_request_id, _title(s, follow), follow.confirmed_at)


def unsubscribe(db: Database, token: str) -> FollowView:
    """Delete the follow (and so the address) a link points at."""
    with db.write() as s:
        follow = _find(s, token)
        if follow is None:
            raise NotFound(_("This link is not valid any more: the address may have been removed already."))
        view = FollowView(follow.id, follow.plan_item_id, follow.data_request_id, _title(s, follow), follow.confirmed_at)
        s.execute(delete(m.Follow).where(m.Follow.id == follow.id))
        return view


# --- cookie follows ---------------------------------------------------------------------------------------
