"""Moderation: approve, hide, edit, resolve reports, merge duplicates, bulk actions, duplicate suggestions.

Every action is one `db.write()` transaction that carries its audit events, so the history lands exactly
when the change does. Every lookup by id goes through the institution scope: another institution's
consultation, proposal or report is reported as missing (404), never as forbidden.

Public notes (the part of the history shown on a proposal's public page) are written in Spanish, the
default interface language. The facts they state (status, reason, survivor id and title) are also kept
as structured data in the event's `after`, so the public history can later be rendered per locale.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    and_,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from idmx import clock
from idmx.accounts import scope
from idmx.accounts.services import StaffPrincipal
from idmx.audit import record, snapshot
from idmx.consultations import rules
from idmx.consultations.forms import ProposalForm
from idmx.consultations.services import author_votes
from idmx.db import Database
from idmx.db import models as m
from idmx.db.upsert import insert_for
from idmx.errors import Conflict, DomainError, NotFound
from idmx.fields import clean_text
from idmx.i18n import gettext as _
from idmx.matching import THRESHOLD, clusters, find_pairs
from idmx.ranking import flags as suspicious_flags

REASON_MAX = 1000
QUEUE_LIMIT = 200
CLUSTERS_LIMIT = 100
# What an audit snapshot of a proposal holds: everything moderation can change.
PROPOSAL_FIELDS = ["title", "description", "institution_id", "topic_id", "status", "merged_into_id", "hidden_reason"]
EDIT_FIELDS = ["title", "description", "institution_id", "topic_id"]
REPORT_FIELDS = ["proposal_id", "reason", "resolved_at", "resolution"]

Status = m.ProposalStatus


# --- scope ---------------------------------------------------------------------------------------------


def proposals(query: Select[Any], who: StaffPrincipal) -> Select[Any]:
    """Restrict a query over proposals to the consultations `who` may see.

    Joins Consultation (so callers may select its columns too) and applies `scope.consultations`.
    """
    return scope.consultations(query.join(m.Consultation, m.Consultation.id == m.Proposal.consultation_id), who)


def reports(query: Select[Any], who: StaffPrincipal) -> Select[Any]:
    return scope.consultations(query.join(m.Consultation, m.Consultation.id == m.ProposalReport.consultation_id), who)


def get_consultation(s: Session, who: StaffPrincipal, consultation_id: int) -> m.Consultation:
    c = s.scalar(scope.consultations(select(m.Consultation).where(m.Consultation.id == consultation_id), who))
    if c is None:
        raise NotFound(_("There is no consultation at this address."))
    return c


def _proposal(s: Session, who: StaffPrincipal, proposal_id: int) -> tuple[m.Proposal, int | None]:
    """The proposal, locked for this transaction, and the institution running its consultation."""
    row = s.execute(
        proposals(select(m.Proposal, m.Consultation.institution_id).where(m.Proposal.id == proposal_id), who)
        .with_for_update(of=m.Proposal)
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        raise NotFound(_("There is no proposal at this address."))
    return row[0], row[1]


# --- forms ---------------------------------------------------------------------------------------------


def clean_reason(raw: Any) -> tuple[str, str | None]:
    """A hiding reason: required, at most REASON_MAX characters. Returns (reason, error)."""
    reason = clean_text(raw)
    if not reason:
        return reason, _("Write the reason; it is shown publicly on the proposal's page.")
    if len(reason) > REASON_MAX:
        return reason, _("At most %(max)s characters (you wrote %(n)s).") % {"max": REASON_MAX, "n": len(reason)}
    return reason, None


def parse_ids(raw: Any) -> list[int] | None:
    """Checked rows from a form: one value or a list of them. None when any value is not an id."""
    values = raw if isinstance(raw, list) else [] if raw in (None, "") else [raw]
    try:
        ids = [int(v) for v in values]
    except (TypeError, ValueError):
        return None
    return sorted(set(ids)) if all(i > 0 for i in ids) else None


# --- single actions ------------------------------------------------------------------------------------


def _note_hidden(reason: str) -> str:
    return f"Ocultada por moderación: {reason}"


def _approve(s: Session, who: StaffPrincipal, p: m.Proposal, institution_id: int | None, now: datetime) -> None:
    if p.status not in (Status.pending, Status.hidden):
        raise Conflict(_("Only proposals awaiting moderation or hidden ones can be published."))
    restoring = p.status == Status.hidden
    before = snapshot(p, PROPOSAL_FIELDS)
    p.status, p.hidden_reason = Status.published, ""
    s.flush()
    if not restoring:
        _author_supports(s, p, now)
    record(
        s, actor_id=who.id, action="proposal.restore" if restoring else "proposal.approve", obj=("proposal", p.id),
        institution_id=institution_id, before=before, after=snapshot(p, PROPOSAL_FIELDS),
        public_note="Publicada de nuevo por moderación" if restoring else "Publicada tras la revisión de moderación",
    )


def _author_supports(s: Session, p: m.Proposal, now: datetime) -> None:
    """As for unmoderated proposals: in an open consultation the author casts their mode's author vote."""
    c = s.get(m.Consultation, p.consultation_id)
    if p.author_id is None or c is None or not rules.is_open(c, now):
        return
    author_votes(s, c.voting_method, p.author_id, p.id, p.consultation_id, now)


def _hide(s: Session, who: StaffPrincipal, p: m.Proposal, institution_id: int | None, reason: str, now: datetime) -> None:
    reason, error = clean_reason(reason)
    if error:
        raise DomainError(error, field="reason")
    if p.status not in (Status.pending, Status.published):
        raise Conflict(_("Only published proposals or proposals awaiting moderation can be hidden."))
    before = snapshot(p, PROPOSAL_FIELDS)
    p.status, p.hidden_reason = Status.hidden, reason
    resolved = _resolve_reports(s, [p.id], m.ReportResolution.hidden, now)
    record(
        s, actor_id=who.id, action="proposal.hide", obj=("proposal", p.id), institution_id=institution_id,
        before=before, after={**snapshot(p, PROPOSAL_FIELDS), "reports_resolved": resolved},
        public_note=_note_hidden(reason),
    )


def _resolve_reports(s: Session, proposal_ids: list[int], resolution: m.ReportResolution, now: datetime) -> int:
    t = m.ProposalReport.__table__
    result = s.execute(
        update(t).where(t.c.proposal_id.in_(proposal_ids), t.c.resolved_at.is_(None)).values(
            resolved_at=now, resolution=resolution.value
        )
    )
    return result.rowcount or 0


def _dismiss_open_reports(s: Session, who: StaffPrincipal, proposal_id: int, institution_id: int | None, now: datetime) -> int:
    open_reports = s.scalars(
        select(m.ProposalReport).where(m.ProposalReport.proposal_id == proposal_id, m.ProposalReport.resolved_at.is_(None))
    ).all()
    for report in open_reports:
        _dismiss(s, who, report, institution_id, now)
    return len(open_reports)


def _dismiss(s: Session, who: StaffPrincipal, report: m.ProposalReport, institution_id: int | None, now: datetime) -> None:
    before = snapshot(report, REPORT_FIELDS)
    report.resolved_at, report.resolution = now, m.ReportResolution.dismissed
    record(s, actor_id=who.id, action="report.dismiss", obj=("proposal_report", report.id), institution_id=institution_id,
           before=before, after=snapshot(report, REPORT_FIELDS))


def approve(db: Database, who: StaffPrincipal, proposal_id: int) -> None:
    """Publish a proposal awaiting moderation, or publish again a hidden one."""
    with db.write() as s:
        p, institution_id = _proposal(s, who, proposal_id)
        _approve(s, who, p, institution_id, clock.now())


def hide(db: Database, who: StaffPrincipal, proposal_id: int, reason: str) -> None:
    """Hide a proposal with a public reason; its open reports are resolved as "hidden"."""
    with db.write() as s:
        p, institution_id = _proposal(s, who, proposal_id)
        _hide(s, who, p, institution_id, reason, clock.now())


def edit(db: Database, who: StaffPrincipal, proposal_id: int, form: ProposalForm) -> bool:
    """Correct title, description, institution and topic; False when nothing changed (nothing recorded)."""
    if not form.valid:
        raise DomainError(next(iter(form.errors.values())))
    with db.write() as s:
        p, institution_id = _proposal(s, who, proposal_id)
        if p.status == Status.merged:
            raise Conflict(_("A merged proposal cannot be edited; edit the proposal it was merged into."))
        before = snapshot(p, EDIT_FIELDS)
        p.title, p.description = form.title, form.description
        p.institution_id, p.topic_id = form.institution_id, form.topic_id
        after = snapshot(p, EDIT_FIELDS)
        if after == before:
            return False
        record(s, actor_id=who.id, action="proposal.edit", obj=("proposal", p.id), institution_id=institution_id,
               before=before, after=after, public_note="Editada por moderación")
    return True


def dismiss_report(db: Database, who: StaffPrincipal, report_id: int) -> int:
    """Resolve a report without acting on the proposal. Returns the proposal's id."""
    with db.write() as s:
        row = s.execute(
            reports(select(m.ProposalReport, m.Consultation.institution_id).where(m.ProposalReport.id == report_id), who)
            .with_for_update(of=m.ProposalReport)
            .execution_options(populate_existing=True)
        ).first()
        if row is None:
            raise NotFound(_("There is no report at this address."))
        report, institution_id = row
        if report.resolved_at is not None:
            raise Conflict(_("This report was already resolved."))
        _dismiss(s, who, report, institution_id, clock.now())
        return report.proposal_id


# --- merge ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MergeResult:
    survivor_id: int
    merged_id: int
    votes_moved: int  # votes of B's supporters who had not voted A, now on A
    votes_dropped: int  # votes on B of respondents who had also voted A (their vote on A stays)
    exposures_added: int
    pairwise_dropped: int  # comparisons of A against B
    pairwise_repointed: int  # comparisons of B against a third proposal, now against A
    repointed_merges: list[int]  # proposals earlier merged into B, now merged into A
    reports_resolved: int
    n_comparisons: int  # A's, recomputed

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def merge_proposals(s: Session, survivor_id: int, merged_id: int, now: datetime | None = None) -> MergeResult:
    """Merge proposal B (`merged_id`) into survivor A, in the caller's transaction. Pure data: no scope, no audit.

    Preconditions: A and B are different proposals of the same consultation, A is published and B is
    published or awaiting moderation (neither hidden nor merged).

    The rules, each one set-based statement that behaves the same on SQLite and PostgreSQL:
    - Votes: a respondent counts once. Whoever voted A keeps their vote on A, whatever they gave B
      (in rating consultations: A's rating is kept and B's dropped; in approval both are the same "1").
      Whoever voted only B has that vote moved to A, value and time unchanged.
    - Exposures: A's become the union of A's and B's.
    - Pairwise comparisons: A-versus-B ones are dropped (they compared the proposal with itself); a
      respondent who compared both A and B with the same third proposal keeps the answer about A (one
      answer per respondent and pair); the other comparisons of B now name A (left, right and winner).
      The comparison counts the pair chooser reads catch up at the worker's next recount.
    - Proposals earlier merged into B now point to A, so no chain of merges is ever followed.
    - B becomes `merged` with `merged_into_id = A`; its open reports are resolved as "merged".

    Both rows are locked first (FOR UPDATE on PostgreSQL; SQLite write transactions are exclusive
    already), which also waits for votes being inserted for A or B, whose foreign-key checks hold a
    share lock on the proposal row.
    """
    if survivor_id == merged_id:
        raise DomainError(_("A proposal cannot be merged into itself."), field="survivor")
    now = now or clock.now()
    found = {
        p.id: p
        for p in s.scalars(
            select(m.Proposal)
            .where(m.Proposal.id.in_((survivor_id, merged_id)))
            .order_by(m.Proposal.id)  # one lock order for every merge: no deadlocks between two of them
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    if len(found) != 2:
        raise NotFound(_("There is no proposal at this address."))
    a, b = found[survivor_id], found[merged_id]
    if a.consultation_id != b.consultation_id:
        raise Conflict(_("Only proposals of the same consultation can be merged."))
    if a.status != Status.published:
        raise Conflict(_("The proposal that remains must be published; approve it first."))
    if b.status not in (Status.published, Status.pending):
        raise Conflict(_("Hidden or already merged proposals cannot be merged."))

    votes, exposures, pairs = m.Vote.__table__, m.Exposure.__table__, m.PairwiseVote.__table__
    proposals_t = m.Proposal.__table__
    A, B = a.id, b.id

    # Votes: move B's votes of respondents without a vote on A, then drop the rest of B's.
    moved = s.execute(
        update(votes)
        .where(votes.c.proposal_id == B, votes.c.respondent_id.not_in(select(votes.c.respondent_id).where(votes.c.proposal_id == A)))
        .values(proposal_id=A)
    ).rowcount
    dropped = s.execute(delete(votes).where(votes.c.proposal_id == B)).rowcount

    # Exposures: union (the primary key makes duplicates impossible; ON CONFLICT skips them).
    added = s.execute(
        insert_for(s, exposures)
        .from_select(
            ["respondent_id", "proposal_id", "consultation_id"],
            select(exposures.c.respondent_id, literal(A, Integer), exposures.c.consultation_id).where(exposures.c.proposal_id == B),
        )
        .on_conflict_do_nothing()
    ).rowcount
    s.execute(delete(exposures).where(exposures.c.proposal_id == B))

    # Pairwise: drop A-vs-B first, so re-pointing can never produce A-vs-A.
    pair_dropped = s.execute(
        delete(pairs).where(
            or_(and_(pairs.c.left_id == A, pairs.c.right_id == B), and_(pairs.c.left_id == B, pairs.c.right_id == A))
        )
    ).rowcount
    # A respondent's B-vs-X answer goes when they also answered A-vs-X: re-pointed, it would repeat that pair.
    other = pairs.alias("other")
    b_side = case((pairs.c.left_id == B, pairs.c.right_id), else_=pairs.c.left_id)
    pair_dropped += s.execute(
        delete(pairs).where(
            or_(pairs.c.left_id == B, pairs.c.right_id == B),
            select(other.c.id).where(
                other.c.respondent_id == pairs.c.respondent_id,
                or_(and_(other.c.left_id == A, other.c.right_id == b_side),
                    and_(other.c.right_id == A, other.c.left_id == b_side)),
            ).exists(),
        )
    ).rowcount or 0
    repointed = s.execute(
        update(pairs)
        .where(or_(pairs.c.left_id == B, pairs.c.right_id == B))
        .values(
            left_id=case((pairs.c.left_id == B, A), else_=pairs.c.left_id),
            right_id=case((pairs.c.right_id == B, A), else_=pairs.c.right_id),
            winner_id=case((pairs.c.winner_id == B, A), else_=pairs.c.winner_id),
        )
    ).rowcount
    comparisons = s.scalar(select(func.count()).select_from(pairs).where(or_(pairs.c.left_id == A, pairs.c.right_id == A)))

    # No chains: whatever was merged into B is now merged into A.
    chained = list(s.scalars(select(proposals_t.c.id).where(proposals_t.c.merged_into_id == B).order_by(proposals_t.c.id)))
    if chained:
        s.execute(update(proposals_t).where(proposals_t.c.merged_into_id == B).values(merged_into_id=A))
    s.execute(update(proposals_t).where(proposals_t.c.id == B).values(status=Status.merged.value, merged_into_id=A))
    resolved = _resolve_reports(s, [B], m.ReportResolution.merged, now)

    s.refresh(a)
    s.refresh(b)
    return MergeResult(
        survivor_id=A, merged_id=B, votes_moved=moved or 0, votes_dropped=dropped or 0, exposures_added=added or 0,
        pairwise_dropped=pair_dropped or 0, pairwise_repointed=repointed or 0, repointed_merges=chained,
        reports_resolved=resolved, n_comparisons=comparisons or 0,
    )


def merge(db: Database, who: StaffPrincipal, survivor_id: int, merged_id: int, *, consultation_id: int | None = None) -> MergeResult:
    """Merge `merged_id` into `survivor_id` with an audit event on each, both visible in the public history."""
    with db.write() as s:
        query = proposals(
            select(m.Proposal.id, m.Proposal.consultation_id, m.Consultation.institution_id).where(
                m.Proposal.id.in_((survivor_id, merged_id))
            ),
            who,
        )
        if consultation_id is not None:
            query = query.where(m.Proposal.consultation_id == consultation_id)
        visible = {row.id: row for row in s.execute(query)}
        if survivor_id not in visible or merged_id not in visible:
            raise NotFound(_("There is no proposal at this address."))
        institution_id = visible[survivor_id].institution_id
        locked = {
            p.id: p
            for p in s.scalars(
                select(m.Proposal).where(m.Proposal.id.in_((survivor_id, merged_id))).order_by(m.Proposal.id)
                .with_for_update().execution_options(populate_existing=True)
            )
        }
        a, b = locked[survivor_id], locked[merged_id]
        before_a, before_b = snapshot(a, PROPOSAL_FIELDS), snapshot(b, PROPOSAL_FIELDS)
        result = merge_proposals(s, survivor_id, merged_id)
        record(
            s, actor_id=who.id, action="proposal.merge", obj=("proposal", b.id), institution_id=institution_id,
            before=before_b, after={**snapshot(b, PROPOSAL_FIELDS), "merged_into_title": a.title, "merge": result.as_dict()},
            public_note=f"Fusionada en «{a.title}»",
        )
        record(
            s, actor_id=who.id, action="proposal.absorb", obj=("proposal", a.id), institution_id=institution_id,
            before=before_a, after={**snapshot(a, PROPOSAL_FIELDS), "absorbed_id": b.id, "absorbed_title": b.title,
                                    "merge": result.as_dict()},
            public_note=f"Se fusionó aquí la propuesta duplicada «{b.title}»",
        )
        for pid in result.repointed_merges:
            record(s, actor_id=who.id, action="proposal.merge_repoint", obj=("proposal", pid), institution_id=institution_id,
                   before={"merged_into_id": b.id}, after={"merged_into_id": a.id})
    return result


# --- bulk ----------------------------------------------------------------------------------------------


@dataclass
class BulkResult:
    done: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)


def bulk(db: Database, who: StaffPrincipal, consultation_id: int, ids: list[int], action: str, reason: str = "") -> BulkResult:
    """Approve or hide several queue rows at once, in one transaction.

    "approve" publishes a proposal awaiting moderation, and for a published one that was reported it
    keeps it as it is and dismisses its open reports. "hide" hides each with the same reason. Rows the
    action does not apply to (already hidden, merged...) are skipped and reported back.
    """
    if action not in ("approve", "hide"):
        raise DomainError(_("Choose an action."), field="action")
    if action == "hide":
        reason, error = clean_reason(reason)
        if error:
            raise DomainError(error, field="reason")
    result = BulkResult()
    now = clock.now()
    with db.write() as s:
        c = get_consultation(s, who, consultation_id)
        rows = s.scalars(
            select(m.Proposal)
            .where(m.Proposal.consultation_id == c.id, m.Proposal.id.in_(ids))
            .order_by(m.Proposal.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
        if len(rows) != len(set(ids)):
            raise NotFound(_("There is no proposal at this address."))
        for p in rows:
            applied = _bulk_one(s, who, p, c.institution_id, action, reason, now)
            (result.done if applied else result.skipped).append(p.id)
    return result


def _bulk_one(s: Session, who: StaffPrincipal, p: m.Proposal, institution_id: int | None, action: str, reason: str,
              now: datetime) -> bool:
    if action == "hide":
        if p.status not in (Status.pending, Status.published):
            return False
        _hide(s, who, p, institution_id, reason, now)
        return True
    if p.status == Status.pending:
        _approve(s, who, p, institution_id, now)
        return True
    if p.status == Status.published:
        return _dismiss_open_reports(s, who, p.id, institution_id, now) > 0
    return False


# --- reading -------------------------------------------------------------------------------------------


def consultations_overview(db: Database, who: StaffPrincipal) -> list[dict[str, Any]]:
    """The consultations `who` moderates, with what waits in each queue."""
    pending = (
        select(m.Proposal.consultation_id, func.count().label("n"))
        .where(m.Proposal.status == Status.pending)
        .group_by(m.Proposal.consultation_id)
        .subquery()
    )
    reported = (
        select(m.ProposalReport.consultation_id, func.count(func.distinct(m.ProposalReport.proposal_id)).label("n"))
        .where(m.ProposalReport.resolved_at.is_(None))
        .group_by(m.ProposalReport.consultation_id)
        .subquery()
    )
    query = scope.consultations(
        select(m.Consultation, m.Institution.acronym, func.coalesce(pending.c.n, 0), func.coalesce(reported.c.n, 0))
        .outerjoin(m.Institution, m.Institution.id == m.Consultation.institution_id)
        .outerjoin(pending, pending.c.consultation_id == m.Consultation.id)
        .outerjoin(reported, reported.c.consultation_id == m.Consultation.id)
        .order_by(m.Consultation.opens_at.desc(), m.Consultation.id),
        who,
    )
    with db.read() as s:
        return [
            {"c": c, "acronym": acronym, "pending": n_pending, "reported": n_reported}
            for c, acronym, n_pending, n_reported in s.execute(query)
        ]


@dataclass
class QueueRow:
    id: int
    title: str
    status: str
    created_at: datetime
    institution: str | None
    open_reports: int
    reasons: list[str]


@dataclass
class Queue:
    consultation: m.Consultation
    rows: list[QueueRow]
    total: int
    hidden: list[dict[str, Any]]


def queue(db: Database, who: StaffPrincipal, consultation_id: int) -> Queue:
    """Proposals awaiting moderation and proposals with open reports, oldest first; and the hidden ones."""
    with db.read() as s:
        c = get_consultation(s, who, consultation_id)
        open_reports = (
            select(m.ProposalReport.proposal_id, func.count().label("n"))
            .where(m.ProposalReport.consultation_id == c.id, m.ProposalReport.resolved_at.is_(None))
            .group_by(m.ProposalReport.proposal_id)
            .subquery()
        )
        waiting = [m.Proposal.consultation_id == c.id,
                   or_(m.Proposal.status == Status.pending,
                       and_(m.Proposal.status == Status.published, open_reports.c.n.is_not(None)))]
        base = select(m.Proposal.id).outerjoin(open_reports, open_reports.c.proposal_id == m.Proposal.id).where(*waiting)
        total = s.scalar(select(func.count()).select_from(base.subquery())) or 0
        rows = s.execute(
            select(m.Proposal.id, m.Proposal.title, m.Proposal.status, m.Proposal.created_at, m.Institution.acronym,
                   func.coalesce(open_reports.c.n, 0).label("n"))
            .outerjoin(open_reports, open_reports.c.proposal_id == m.Proposal.id)
            .outerjoin(m.Institution, m.Institution.id == m.Proposal.institution_id)
            .where(*waiting)
            .order_by(m.Proposal.created_at, m.Proposal.id)
            .limit(QUEUE_LIMIT)
        ).all()
        reasons: dict[int, list[str]] = {}
        reported_ids = [r.id for r in rows if r.n]
        if reported_ids:
            for pid, reason in s.execute(
                select(m.ProposalReport.proposal_id, m.ProposalReport.reason)
                .where(m.ProposalReport.proposal_id.in_(reported_ids), m.ProposalReport.resolved_at.is_(None))
                .order_by(m.ProposalReport.created_at, m.ProposalReport.id)
            ):
                reasons.setdefault(pid, []).append(reason)
        hidden = [
            {"id": pid, "title": title, "reason": reason}
            for pid, title, reason in s.execute(
                select(m.Proposal.id, m.Proposal.title, m.Proposal.hidden_reason)
                .where(m.Proposal.consultation_id == c.id, m.Proposal.status == Status.hidden)
                .order_by(m.Proposal.id)
            )
        ]
    items = [
        QueueRow(r.id, r.title, r.status.value, r.created_at, r.acronym, r.n, reasons.get(r.id, [])[:3]) for r in rows
    ]
    return Queue(c, items, total, hidden)


@dataclass
class ProposalView:
    proposal: m.Proposal
    consultation: m.Consultation
    merged_into: dict[str, Any] | None
    reports: list[m.ProposalReport]
    history: list[dict[str, Any]]
    votes: int
    merge_targets: list[tuple[int, str]]


def proposal_view(db: Database, who: StaffPrincipal, proposal_id: int) -> ProposalView:
    """Everything the staff page of one proposal shows, hidden and merged ones included."""
    with db.read() as s:
        row = s.execute(proposals(select(m.Proposal, m.Consultation).where(m.Proposal.id == proposal_id), who)).first()
        if row is None:
            raise NotFound(_("There is no proposal at this address."))
        p, c = row
        merged_into = None
        if p.merged_into_id:
            target = s.execute(select(m.Proposal.id, m.Proposal.title).where(m.Proposal.id == p.merged_into_id)).one()
            merged_into = {"id": target.id, "title": target.title}
        found = s.scalars(
            select(m.ProposalReport).where(m.ProposalReport.proposal_id == p.id)
            .order_by(m.ProposalReport.resolved_at.is_not(None), m.ProposalReport.created_at.desc(), m.ProposalReport.id.desc())
        ).all()
        history = [
            {"id": e.id, "at": e.at, "action": e.action, "actor": email, "note": e.public_note,
             "changes": changes(e.before, e.after)}
            for e, email in s.execute(
                select(m.AuditEvent, m.StaffUser.email)
                .outerjoin(m.StaffUser, m.StaffUser.id == m.AuditEvent.actor_id)
                .where(m.AuditEvent.object_type == "proposal", m.AuditEvent.object_id == p.id)
                .order_by(m.AuditEvent.at, m.AuditEvent.id)
            )
        ]
        votes = s.scalar(select(func.count()).select_from(m.Vote).where(m.Vote.proposal_id == p.id)) or 0
        targets = [
            (pid, title)
            for pid, title in s.execute(
                select(m.Proposal.id, m.Proposal.title)
                .where(m.Proposal.consultation_id == c.id, m.Proposal.status == Status.published, m.Proposal.id != p.id)
                .order_by(m.Proposal.title, m.Proposal.id)
            )
        ]
    return ProposalView(p, c, merged_into, list(found), history, votes, targets)


@dataclass
class DuplicateCluster:
    """Proposals that look like requests for the same dataset (`idmx.matching.clusters`).

    `proposals` start with `survivor` when there is one: the published proposal the others would be
    merged into (the one staff chose with `keep`, else the one with most votes, then the oldest). Without
    a published proposal there is no survivor: one must be approved first.
    """

    proposals: list[dict[str, Any]]
    score: float  # the strongest pair's
    survivor: dict[str, Any] | None

    @property
    def ids(self) -> list[int]:
        return [p["id"] for p in self.proposals]


def duplicate_clusters(db: Database, who: StaffPrincipal, consultation_id: int, *, keep: Iterable[int] = (),
                       limit: int = CLUSTERS_LIMIT, threshold: float = THRESHOLD
                       ) -> tuple[m.Consultation, list[DuplicateCluster]]:
    """Candidate duplicate groups among published and pending proposals, most alike first.

    The same matcher as the hints while typing and `idmx duplicates` (`idmx.matching.find_pairs` on title
    and description, then `clusters`). `keep`: proposal ids staff chose as survivors; one that is published
    becomes its group's survivor.
    """
    votes = select(func.count()).where(m.Vote.proposal_id == m.Proposal.id).correlate(m.Proposal).scalar_subquery()
    with db.read() as s:
        c = get_consultation(s, who, consultation_id)
        found = s.execute(
            select(m.Proposal.id, m.Proposal.title, m.Proposal.description, m.Proposal.status, votes.label("votes"))
            .where(m.Proposal.consultation_id == c.id, m.Proposal.status.in_((Status.published, Status.pending)))
            .order_by(m.Proposal.id)
        ).all()
    rows = {r.id: {"id": r.id, "title": r.title, "status": r.status.value, "votes": r.votes} for r in found}
    pairs = find_pairs([(r.id, r.title, r.description or "") for r in found], threshold)
    groups = clusters(pairs)[:limit]
    group_of = {pid: i for i, group in enumerate(groups) for pid in group}
    strongest: dict[int, float] = {}
    for a, b, score in pairs:  # best first: a group's first pair inside it is its strongest
        if a in group_of and group_of[a] == group_of.get(b):
            strongest.setdefault(group_of[a], score)
    keep = set(keep)
    result = []
    for i, group in enumerate(groups):
        members = [rows[pid] for pid in group]
        published = [p for p in members if p["status"] == Status.published.value]
        chosen = [p for p in published if p["id"] in keep]
        survivor = (chosen or sorted(published, key=lambda p: (-p["votes"], p["id"])) or [None])[0]
        others = sorted((p for p in members if p is not survivor), key=lambda p: (-p["votes"], p["id"]))
        result.append(DuplicateCluster([survivor, *others] if survivor else others, strongest[i], survivor))
    return c, result


@dataclass
class SuspiciousVotes:
    consultation: m.Consultation
    counts: suspicious_flags.FlagCounts
    flags: list[suspicious_flags.Flag]


def suspicious(db: Database, who: StaffPrincipal, consultation_id: int) -> SuspiciousVotes:
    """The respondents of a consultation flagged as suspicious, with why (`idmx.ranking.flags`)."""
    with db.read() as s:
        c = get_consultation(s, who, consultation_id)
    return SuspiciousVotes(c, suspicious_flags.counts(db, c.id), suspicious_flags.listing(db, c.id))


# --- diffs ---------------------------------------------------------------------------------------------


def changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[tuple[str, Any, Any]]:
    """A compact diff of two snapshots: (key, old, new) for every key whose value differs, in key order.

    A creation (no `before`) lists every field of `after` with old None; a deletion the reverse.
    """
    before, after = before or {}, after or {}
    return [(k, before.get(k), after.get(k)) for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
