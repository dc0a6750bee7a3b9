"""What a plan item's public page shows: queries that select exactly that, shaped as plain data.

Never staff names or e-mail addresses: the history says what changed and when, not who typed it.
Support comes from the published IDMX editions the item is on (their `ItemProposal` rows, the
proposals' scores as the edition stored them) or, for an item from an institution's own consultation,
from that consultation's latest ranking run once its results are public.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from idmx import clock
from idmx.consultations import rules
from idmx.db import Database
from idmx.db import models as m
from idmx.errors import NotFound
from idmx.i18n import current as current_lang
from idmx.i18n import gettext as _
from idmx.plans import items, policy
from idmx.plans.labels import event_label, source_label, status_label
from idmx.ranking.compute import NOT_STATED

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


def _localized(es: str, en: str) -> str:
    return en if current_lang() == "en" and en else es


def _editions(s: Session, item_id: int) -> tuple[list[EditionRef], list[int]]:
    """Published editions that list the item, newest first, with the item's row id in each."""
    rows = s.execute(
        select(m.Edition, m.InfrastructureItem)
        .join(m.InfrastructureItem, m.InfrastructureItem.edition_id == m.Edition.id)
        .where(m.InfrastructureItem.plan_item_id == item_id, m.Edition.status == m.EditionStatus.published)
        .order_by(m.Edition.published_at.desc(), m.Edition.id.desc())
    ).all()
    refs = [
        EditionRef(e.series, e.version, _localized(e.title_es, e.title_en), edition_url(e.series, e.version),
                   infra.rank, infra.tier, infra.priority, infra.ci_low, infra.ci_high)
        for e, infra in rows
    ]
    return refs, [infra.id for _e, infra in rows]


def _segment_names(s: Session) -> dict[str, str]:
    rows = s.execute(select(m.Segment.code, m.Segment.name_es, m.Segment.name_en).order_by(m.Segment.sort_order)).all()
    names = {code: _localized(es, en) for code, es, en in rows}
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
            consultation_slug=slug, consultation_title=_localized(c_es, c_en), n_eff=float(link.n_eff),
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
        consultation_title=_localized(c.title_es, c.title_en), n_eff=float(result.get("n_eff") or 0.0),
        n_votes=int(result.get("n_votes") or 0), rank=_rank(result.get("rank")), of=len(run.results or []),
        segments=_segments_of(rec, counts, names),
    )
    return Support(
        heading=_("Support in %(consultation)s") % {"consultation": support_row.consultation_title},
        rows=[support_row], total_n_eff=support_row.n_eff, total_n_votes=support_row.n_votes,
        method_note=_("Per-sector ranks are not computed for pairwise consultations.")
        if c.voting_method == m.VotingMethod.pairwise else "",
    )


def _as_date(value: Any) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _history(s: Session, item_id: int) -> list[HistoryEntry]:
    events = items.history(s, item_id)
    basis_ids = {e.details.get("legal_basis_id") for e in events if (e.details or {}).get("legal_basis_id")}
    bases = {
        b.id: (_localized(b.name_es, b.name_en) + (f" ({b.article})" if b.article else ""))
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
