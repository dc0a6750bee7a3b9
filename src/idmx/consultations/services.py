"""Participation: reading consultations and proposals, and the respondent's writes.

Every write runs in one transaction (`db.write()`); the vote path uses SQLAlchemy Core statements with
ON CONFLICT so that it is one round trip per step and concurrent identical requests store one vote.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, bindparam, cast, delete, func, insert, literal, select, union_all, update
from sqlalchemy.orm import Session

from idmx import clock, votemodes
from idmx.consultations import queries as search
from idmx.consultations import rules
from idmx.consultations.forms import ProfileForm, ProposalForm, ReportForm
from idmx.consultations.pairing import choose_pair
from idmx.consultations.participants import BurstLimits, Participant, as_participant, burst_detail
from idmx.counters import Counters
from idmx.db import Database
from idmx.db import models as m
from idmx.db.faults import INCIDENTS, unavailability
from idmx.db.upsert import insert_for
from idmx.errors import Conflict, NotFound
from idmx.i18n import gettext as _
from idmx.matching import normalize

PAGE_SIZE = 20
ORDERS = ("random", "newest", "support")
VOTABLE = (m.ProposalStatus.published,)


# --- reading -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsultationView:
    consultation: m.Consultation
    institution: dict[str, str] | None

    @property
    def id(self) -> int:
        return self.consultation.id

    def results_visible(self, now: datetime) -> bool:
        return rules.results_visible(self.consultation, now)

    def phase(self, now: datetime) -> rules.Phase:
        return rules.phase(self.consultation, now)


def get_consultation(db: Database, slug: str) -> ConsultationView:
    with db.read() as s:
        row = s.execute(
            select(m.Consultation, m.Institution.acronym, m.Institution.name_es, m.Institution.name_en)
            .outerjoin(m.Institution, m.Institution.id == m.Consultation.institution_id)
            .where(m.Consultation.slug == slug, m.Consultation.status == m.ConsultationStatus.published)
        ).first()
    if row is None:
        raise NotFound(_("There is no consultation at this address."))
    c, acronym, name_es, name_en = row
    return ConsultationView(c, {"acronym": acronym, "name_es": name_es, "name_en": name_en} if acronym else None)


_REFERENCE_TTL_S = 300.0
_reference_cache: dict[int, tuple[float, dict[str, list[tuple[int, str, str]]]]] = {}


def reference_choices(db: Database) -> dict[str, list[tuple[int, str, str]]]:
    """(id, Spanish name, English name) lists for the form selects.

    Reference data changes only when `idmx seed` runs, yet every consultation page needs it: keep it
    for a few minutes per process instead of four queries per page view.
    """
    cached = _reference_cache.get(id(db))
    now = time.monotonic()
    if cached and now - cached[0] < _REFERENCE_TTL_S:
        return cached[1]
    choices = _load_reference_choices(db)
    _reference_cache[id(db)] = (now, choices)
    return choices


def _load_reference_choices(db: Database) -> dict[str, list[tuple[int, str, str]]]:
    with db.read() as s:
        return {
            "institutions": [
                (i, f"{a} · {es}", f"{a} · {en}")
                for i, a, es, en in s.execute(
                    select(m.Institution.id, m.Institution.acronym, m.Institution.name_es, m.Institution.name_en)
                    .order_by(m.Institution.acronym)
                )
            ],
            "topics": [tuple(r) for r in s.execute(select(m.Topic.id, m.Topic.name_es, m.Topic.name_en).order_by(m.Topic.name_es))],
            "segments": [
                tuple(r) for r in s.execute(select(m.Segment.id, m.Segment.name_es, m.Segment.name_en).order_by(m.Segment.sort_order))
            ],
            "states": [tuple(r) for r in s.execute(select(m.State.id, m.State.name, m.State.name).order_by(m.State.inegi_code))],
        }


def respondent_id(s: Session, consultation_id: int, token_hash: str | None) -> int | None:
    if token_hash is None:
        return None
    return s.scalar(
        select(m.Respondent.id).where(
            m.Respondent.consultation_id == consultation_id, m.Respondent.token_hash == token_hash
        )
    )


def upsert_respondent(
    s: Session, consultation_id: int, token_hash: str, *, participating: bool, segment_required: bool = False
) -> tuple[int, bool]:
    """Get or create the respondent; mark when they first took part. Returns the id and whether this
    call created it (`Arrivals.note` then counts it).

    With `segment_required`, a respondent who has not stated a sector is refused (the caller's
    transaction then rolls back, so nothing is stored).
    """
    existing = respondent_id(s, consultation_id, token_hash)
    now = clock.now()
    table = m.Respondent.__table__
    stmt = insert_for(s, table).values(
        consultation_id=consultation_id,
        token_hash=token_hash,
        organisation="", use_who="", use_purpose="", use_benefit="",
        created_at=now,
        participated_at=now if participating else None,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["consultation_id", "token_hash"],
        set_={
            "participated_at": func.coalesce(table.c.participated_at, stmt.excluded.participated_at)
        },
    ).returning(table.c.id, table.c.segment_id)
    rid, segment_id = s.execute(stmt).one()
    if segment_required and segment_id is None:
        raise Conflict(_("This consultation asks every participant for their sector first. Nothing was saved."))
    return rid, existing is None


@dataclass(frozen=True)
class Arrivals:
    """Where new respondents are counted, per consultation and hour, under their address and network
    (`participants.Participant`); one beyond `limits` is flagged as part of a burst, and kept."""

    counters: Counters
    limits: BurstLimits = BurstLimits()

    def note(self, db: Database, consultation_id: int, respondent: int, who: Participant) -> str | None:
        if not who.address_key:
            return None
        from_address = self.counters.hit(f"new:{consultation_id}:a:{who.address_key}", 3600)
        from_network = self.counters.hit(f"new:{consultation_id}:n:{who.network_key}", 3600)
        detail = burst_detail(from_address, from_network, self.limits)
        if detail is not None:
            with db.write() as s:
                s.execute(insert_for(s, m.RespondentFlag.__table__).on_conflict_do_nothing(), [{
                    "consultation_id": consultation_id, "respondent_id": respondent, "kind": "burst", "detail": detail,
                    "flagged_at": clock.now()}])
        return detail


@dataclass
class BrowseQuery:
    q: str = ""
    topic: int | None = None
    institution: int | None = None
    order: str = "random"
    page: int = 1


@dataclass
class BrowseItem:
    id: int
    title: str
    description: str
    institution: str | None
    topic_es: str | None
    topic_en: str | None
    created_at: datetime
    support: float | None = None
    my_vote: int | None = None


@dataclass
class BrowsePage:
    items: list[BrowseItem]
    total: int
    page: int
    pages: int
    query: BrowseQuery
    support_label: str = ""
    orders: list[str] = field(default_factory=list)
    shown: list[int] = field(default_factory=list)  # proposals to record as seen by the respondent


_PRIME = 2147483647  # 2**31 - 1: (id mod p) times a multiplier below p stays within a signed 64-bit integer


def _random_key(seed: int):
    # A cheap permutation of ids that is the same on both databases and stable for one respondent
    # across pages, so early proposals are not favoured by always coming first. The respondent's seed
    # picks the multiplier: adding it instead (as before) only rotated one cyclic order shared by
    # everyone, so neighbours in that cycle were always shown together and two respondents often saw
    # the same first page.
    big = BigInteger()
    multiplier, offset = 1 + seed % (_PRIME - 1), (seed // (_PRIME - 1) * 40503 + seed) % _PRIME
    return ((cast(m.Proposal.id, big) % literal(_PRIME, big)) * literal(multiplier, big) + literal(offset, big)) % literal(_PRIME, big)


def _support_column(method: str):
    support = votemodes.get(method).support
    if support == "mean":
        return (
            select(func.avg(m.Vote.value)).where(m.Vote.proposal_id == m.Proposal.id).correlate(m.Proposal).scalar_subquery()
        )
    if support == "wins":
        return (
            select(func.count()).where(m.PairwiseVote.winner_id == m.Proposal.id).correlate(m.Proposal).scalar_subquery()
        )
    return select(func.count()).where(m.Vote.proposal_id == m.Proposal.id).correlate(m.Proposal).scalar_subquery()


def browse(
    db: Database,
    view: ConsultationView,
    query: BrowseQuery,
    *,
    seed: int,
    token_hash: str | None,
    now: datetime,
    record_exposure: bool,
    who: Participant | None = None,
    arrivals: Arrivals | None = None,
) -> BrowsePage:
    c = view.consultation
    visible = view.results_visible(now)
    orders = ["random", "newest"] + (["support"] if visible else [])
    if query.order not in orders:
        query.order = "random"
    support = _support_column(c.voting_method).label("support")
    conditions = [m.Proposal.consultation_id == c.id, m.Proposal.status == m.ProposalStatus.published]
    if query.topic:
        conditions.append(m.Proposal.topic_id == query.topic)
    if query.institution:
        conditions.append(m.Proposal.institution_id == query.institution)

    if query.q:
        search.refresh(db, c.id)
    with db.read() as s:
        if query.q:
            conditions.append(search.matching_condition(s, query.q))
        total = s.scalar(select(func.count()).select_from(m.Proposal).where(*conditions)) or 0
        pages = max(1, -(-total // PAGE_SIZE))
        query.page = min(max(1, query.page), pages)
        order_by: list[Any]
        if query.order == "newest":
            order_by = [m.Proposal.created_at.desc(), m.Proposal.id.desc()]
        elif query.order == "support":
            order_by = [support.desc(), m.Proposal.id]
        else:
            order_by = [_random_key(seed), m.Proposal.id]
        rows = s.execute(
            select(
                m.Proposal.id, m.Proposal.title, m.Proposal.description, m.Institution.acronym,
                m.Topic.name_es, m.Topic.name_en, m.Proposal.created_at, support,
            )
            .outerjoin(m.Institution, m.Institution.id == m.Proposal.institution_id)
            .outerjoin(m.Topic, m.Topic.id == m.Proposal.topic_id)
            .where(*conditions)
            .order_by(*order_by)
            .limit(PAGE_SIZE)
            .offset((query.page - 1) * PAGE_SIZE)
        ).all()
        rid = respondent_id(s, c.id, token_hash)
        mine: dict[int, int] = {}
        if rid is not None and rows:
            mine = dict(
                s.execute(
                    select(m.Vote.proposal_id, m.Vote.value).where(
                        m.Vote.respondent_id == rid, m.Vote.proposal_id.in_([r.id for r in rows])
                    )
                ).all()
            )
    items = [
        BrowseItem(
            id=r.id, title=r.title, description=r.description, institution=r.acronym, topic_es=r.name_es,
            topic_en=r.name_en, created_at=r.created_at,
            support=(float(r.support) if r.support is not None else None) if visible else None,
            my_vote=mine.get(r.id),
        )
        for r in rows
    ]
    listing = BrowsePage(items, total, query.page, pages, query, orders=orders)
    if record_exposure and token_hash and items and votemodes.get(c.voting_method).records_exposures and rules.is_open(c, now):
        listing.shown = [i.id for i in items]  # for `record_shown`, once the page has been sent
    return listing


def author_votes(s: Session, method: str, respondent_id: int, proposal_id: int, consultation_id: int,
                 now: datetime) -> None:
    """An author casts their mode's author vote for their own proposal (approval: they support it, and so
    have seen it); modes without one leave it to them."""
    mode = votemodes.get(method)
    if mode.author_vote is None:
        return
    row = {"respondent_id": respondent_id, "proposal_id": proposal_id, "consultation_id": consultation_id}
    if mode.records_exposures:
        s.execute(insert_for(s, m.Exposure.__table__).on_conflict_do_nothing(), [row])
    s.execute(insert_for(s, m.Vote.__table__).on_conflict_do_nothing(), [{**row, "value": mode.author_vote, "cast_at": now}])


def record_shown(db: Database, consultation_id: int, who: Participant, proposal_ids: list[int],
                 arrivals: Arrivals | None = None) -> None:
    """`record_exposures` for a page already sent (a background task): the page is a read and never
    waits for the writer. While the database cannot write (locked by a backup, full) the exposures
    are dropped with one log line per incident; the next view records them, and every vote its own."""
    try:
        record_exposures(db, consultation_id, who, proposal_ids, arrivals)
    except Exception as exc:
        kind = unavailability(exc)
        if kind is None:
            raise
        INCIDENTS.note(kind, exc, "recording what a respondent was shown")


def record_exposures(db: Database, consultation_id: int, who: Participant | str, proposal_ids: list[int],
                     arrivals: Arrivals | None = None) -> None:
    """Remember which proposals this respondent was shown: the denominator of their support."""
    who = as_participant(who)
    with db.write() as s:
        rid, created = upsert_respondent(s, consultation_id, who.token_hash, participating=False)
        stmt = insert_for(s, m.Exposure.__table__).on_conflict_do_nothing()
        s.execute(stmt, [{"respondent_id": rid, "proposal_id": pid, "consultation_id": consultation_id} for pid in proposal_ids])
    if created and arrivals is not None:
        arrivals.note(db, consultation_id, rid, who)


# --- proposals -----------------------------------------------------------------------------------------


def similar_proposals(db: Database, consultation_id: int, text: str, limit: int = 5, *,
                      finished: bool = False) -> list[dict[str, Any]]:
    """Published proposals that look like the same request as `text`, best first (`idmx.matching`).

    The hint mode of the matcher (`ProposalIndex.search(partial=True)`, at `HINT_THRESHOLD`) over the
    candidates the database's full-text index finds (`idmx.consultations.queries`): while
    someone types, the last word is read as the start of a word ("gasol"); a `finished` title (one
    sent with the proposal form) is read as it stands. The live hints and the check before a proposal
    is saved both come from here, so both show the same proposals.
    """
    if len(normalize(text)) < 3:
        return []
    # A space after the last word tells the matcher the word is complete.
    return search.similar(db, consultation_id, text.rstrip() + " " if finished else text, limit=limit)


def similar_before_saving(db: Database, view: ConsultationView, form: ProposalForm, now: datetime) -> list[dict[str, Any]]:
    """The published proposals to show a respondent before their proposal is saved: those that look like
    the same request, unless they confirmed theirs is different (`ProposalForm.confirmed_different`) or
    the consultation takes no proposals now (then `create_proposal` says why)."""
    c = view.consultation
    if form.confirmed_different or c.proposal_mode == m.ProposalMode.fixed or view.phase(now) != rules.Phase.open:
        return []
    return similar_proposals(db, view.id, form.title, finished=True)


def create_proposal(db: Database, view: ConsultationView, who: Participant | str, form: ProposalForm, now: datetime,
                    arrivals: Arrivals | None = None) -> m.Proposal:
    who = as_participant(who)
    c = view.consultation
    rules.check_open(c, now)
    if c.proposal_mode == m.ProposalMode.fixed:
        raise Conflict(_("This consultation only votes on a fixed list; new proposals are not accepted."))
    with db.write() as s:
        rid, created = upsert_respondent(s, c.id, who.token_hash, participating=True, segment_required=c.segment_required)
        proposal = m.Proposal(
            consultation_id=c.id,
            title=form.title,
            description=form.description,
            institution_id=form.institution_id,
            topic_id=form.topic_id,
            intended_use=form.intended_use,
            status=m.ProposalStatus.pending if c.proposal_mode == m.ProposalMode.moderated else m.ProposalStatus.published,
            author_id=rid,
            created_at=now,
        )
        s.add(proposal)
        s.flush()
        if proposal.status == m.ProposalStatus.published:
            author_votes(s, c.voting_method, rid, proposal.id, c.id, now)
    if created and arrivals is not None:
        arrivals.note(db, c.id, rid, who)
    return proposal


@dataclass
class ProposalDetail:
    proposal: m.Proposal
    consultation_slug: str
    institution: dict[str, str] | None
    topic: dict[str, str] | None
    merged_into: dict[str, Any] | None
    history: list[dict[str, Any]]
    support: float | None
    votes: int
    my_vote: int | None


def proposal_detail(db: Database, view: ConsultationView, proposal_id: int, token_hash: str | None, now: datetime) -> ProposalDetail:
    c = view.consultation
    with db.read() as s:
        row = s.execute(
            select(m.Proposal, m.Institution.acronym, m.Institution.name_es, m.Institution.name_en, m.Topic.name_es, m.Topic.name_en)
            .outerjoin(m.Institution, m.Institution.id == m.Proposal.institution_id)
            .outerjoin(m.Topic, m.Topic.id == m.Proposal.topic_id)
            .where(m.Proposal.id == proposal_id, m.Proposal.consultation_id == c.id)
        ).first()
        if row is None:
            raise NotFound(_("There is no proposal at this address."))
        p, acronym, inst_es, inst_en, topic_es, topic_en = row
        rid = respondent_id(s, c.id, token_hash)
        if p.status == m.ProposalStatus.pending and (rid is None or p.author_id != rid):
            raise NotFound(_("There is no proposal at this address."))
        merged = None
        if p.merged_into_id:
            target = s.execute(select(m.Proposal.id, m.Proposal.title).where(m.Proposal.id == p.merged_into_id)).first()
            merged = {"id": target.id, "title": target.title} if target else None
        events = s.execute(
            select(m.AuditEvent.at, m.AuditEvent.action, m.AuditEvent.public_note)
            .where(m.AuditEvent.object_type == "proposal", m.AuditEvent.object_id == p.id, m.AuditEvent.public_note != "")
            .order_by(m.AuditEvent.at)
        ).all()
        votes = s.scalar(select(func.count()).select_from(m.Vote).where(m.Vote.proposal_id == p.id)) or 0
        support = s.scalar(select(_support_column(c.voting_method)).select_from(m.Proposal).where(m.Proposal.id == p.id))
        my_vote = s.scalar(select(m.Vote.value).where(m.Vote.proposal_id == p.id, m.Vote.respondent_id == rid)) if rid else None
    history = [{"at": p.created_at, "action": "created", "note": ""}] + [
        {"at": at, "action": action, "note": note} for at, action, note in events
    ]
    visible = view.results_visible(now)
    return ProposalDetail(
        proposal=p,
        consultation_slug=c.slug,
        institution={"acronym": acronym, "name_es": inst_es, "name_en": inst_en} if acronym else None,
        topic={"name_es": topic_es, "name_en": topic_en} if topic_es else None,
        merged_into=merged,
        history=history,
        support=float(support) if (support is not None and visible) else None,
        votes=votes if visible else 0,
        my_vote=my_vote,
    )


# --- votes ---------------------------------------------------------------------------------------------


def _votable(s: Session, c: m.Consultation, proposal_id: int) -> None:
    # FOR SHARE (PostgreSQL; SQLite serialises writers anyway): a merge or hide that locks the row
    # waits for this vote, or this vote waits for it and then sees the new status.
    status = s.scalar(
        select(m.Proposal.status)
        .where(m.Proposal.id == proposal_id, m.Proposal.consultation_id == c.id)
        .with_for_update(read=True)
    )
    if status is None:
        raise NotFound(_("There is no proposal at this address."))
    rules.check_votable(status)


def current_vote(db: Database, consultation_id: int, proposal_id: int, token_hash: str | None) -> int | None:
    with db.read() as s:
        rid = respondent_id(s, consultation_id, token_hash)
        if rid is None:
            return None
        return s.scalar(select(m.Vote.value).where(m.Vote.respondent_id == rid, m.Vote.proposal_id == proposal_id))


@dataclass
class Pair:
    left: dict[str, Any]
    right: dict[str, Any]
    answered: int


def next_pair(db: Database, c: m.Consultation, token_hash: str | None, rng: random.Random) -> Pair | None:
    with db.read() as s:
        comparisons = comparison_counts(s, c.id)
        rid = respondent_id(s, c.id, token_hash)
        seen: set[frozenset[int]] = set()
        if rid is not None:
            seen = {frozenset(p) for p in s.execute(
                select(m.PairwiseVote.left_id, m.PairwiseVote.right_id).where(m.PairwiseVote.respondent_id == rid)
            ).all()}
        pair = choose_pair(comparisons, seen, rng)
        if pair is None:
            return None
        rows = {
            r.id: {"id": r.id, "title": r.title, "description": r.description}
            for r in s.execute(select(m.Proposal.id, m.Proposal.title, m.Proposal.description).where(m.Proposal.id.in_(pair)))
        }
    return Pair(rows[pair[0]], rows[pair[1]], len(seen))


def record_pair(db: Database, c: m.Consultation, who: Participant | str, form: Mapping[str, Any], now: datetime,
                arrivals: Arrivals | None = None) -> None:
    """Store a comparison; the respondent's earlier answer to the same pair (either side) is replaced.

    The vote takes share locks on its two proposals (against a merge or hide) in ascending id order and
    updates no counter, so simultaneous votes never wait on one another: how often each proposal was
    compared is recounted outside votes (`recount_comparisons`).
    """
    who = as_participant(who)
    rules.check_open(c, now)
    mode = votemodes.get(c.voting_method)
    if mode.storage != "comparison":
        raise Conflict(_("This consultation does not compare proposals in pairs."))
    answer: votemodes.Comparison = mode.parse(form)
    with db.write() as s:
        for pid in sorted((answer.left, answer.right)):
            _votable(s, c, pid)
        rid, created = upsert_respondent(s, c.id, who.token_hash, participating=True, segment_required=c.segment_required)
        s.execute(_pair_upsert(s), {
            "consultation_id": c.id, "respondent_id": rid, "left_id": answer.left, "right_id": answer.right,
            "winner_id": answer.winner, "cast_at": now})
    if created and arrivals is not None:
        arrivals.note(db, c.id, rid, who)


def _pair_upsert(s: Session):
    table = m.PairwiseVote.__table__
    stmt = insert_for(s, table).values(
        consultation_id=bindparam("consultation_id"), respondent_id=bindparam("respondent_id"),
        left_id=bindparam("left_id"), right_id=bindparam("right_id"), winner_id=bindparam("winner_id"),
        cast_at=bindparam("cast_at"),
    )
    return stmt.on_conflict_do_update(
        index_elements=[table.c.respondent_id, m.PAIR_LOW, m.PAIR_HIGH],
        set_={"left_id": stmt.excluded.left_id, "right_id": stmt.excluded.right_id,
              "winner_id": stmt.excluded.winner_id, "cast_at": stmt.excluded.cast_at},
    )


def comparison_counts(s: Session, consultation_id: int) -> dict[int, int]:
    """How often each published proposal was compared, as last recounted (0 until then)."""
    cc = m.ComparisonCount
    return dict(s.execute(
        select(m.Proposal.id, func.coalesce(cc.n, 0))
        .outerjoin(cc, (cc.proposal_id == m.Proposal.id) & (cc.consultation_id == consultation_id))
        .where(m.Proposal.consultation_id == consultation_id, m.Proposal.status == m.ProposalStatus.published)
    ).all())


def recount_comparisons(db: Database, now: datetime) -> int:
    """Recount `comparison_counts` of every open pairwise consultation from its comparisons (the worker's
    job); returns how many consultations were recounted. Readers see the old counts or the new ones."""
    codes = [mode.code for mode in votemodes.all_modes() if mode.storage == "comparison"]
    with db.read() as s:
        open_ids = [c.id for c in s.scalars(select(m.Consultation).where(
            m.Consultation.voting_method.in_(codes), m.Consultation.status == m.ConsultationStatus.published,
            m.Consultation.opens_at <= now, m.Consultation.closes_at > now))]
    pv, cc = m.PairwiseVote.__table__, m.ComparisonCount.__table__
    for cid in open_ids:
        sides = union_all(select(pv.c.left_id.label("pid")).where(pv.c.consultation_id == cid),
                          select(pv.c.right_id.label("pid")).where(pv.c.consultation_id == cid)).subquery()
        with db.write() as s:
            s.execute(delete(cc).where(cc.c.consultation_id == cid))
            s.execute(insert(cc).from_select(
                ["consultation_id", "proposal_id", "n"],
                select(literal(cid), sides.c.pid, func.count()).group_by(sides.c.pid)))
    return len(open_ids)


# --- profile --------------------------------------------------------------------------------------------


def get_profile(db: Database, consultation_id: int, token_hash: str | None) -> m.Respondent | None:
    if token_hash is None:
        return None
    with db.read() as s:
        return s.scalar(
            select(m.Respondent).where(m.Respondent.consultation_id == consultation_id, m.Respondent.token_hash == token_hash)
        )


def save_profile(db: Database, c: m.Consultation, who: Participant | str, form: ProfileForm, now: datetime,
                 arrivals: Arrivals | None = None) -> None:
    who = as_participant(who)
    rules.check_open(c, now)
    with db.write() as s:
        rid, created = upsert_respondent(s, c.id, who.token_hash, participating=False)
        s.execute(
            update(m.Respondent)
            .where(m.Respondent.id == rid)
            .values(
                segment_id=form.segment_id, state_id=form.state_id, organisation=form.organisation,
                use_who=form.use_who, use_purpose=form.use_purpose, use_benefit=form.use_benefit,
            )
        )
    if created and arrivals is not None:
        arrivals.note(db, c.id, rid, who)


def has_profile(db: Database, consultation_id: int, token_hash: str | None) -> bool:
    profile = get_profile(db, consultation_id, token_hash)
    return bool(profile and (profile.segment_id or profile.state_id))


# --- reports ----------------------------------------------------------------------------------------------


def _check_reportable(status: m.ProposalStatus | None) -> None:
    if status is None:
        raise NotFound(_("There is no proposal at this address."))
    if status != m.ProposalStatus.published:
        raise Conflict(_("Only published proposals can be reported. Nothing was saved."))


def reportable(db: Database, consultation_id: int, proposal_id: int) -> dict[str, Any]:
    with db.read() as s:
        row = s.execute(
            select(m.Proposal.id, m.Proposal.title, m.Proposal.status).where(
                m.Proposal.id == proposal_id, m.Proposal.consultation_id == consultation_id
            )
        ).first()
    _check_reportable(row.status if row else None)
    assert row is not None
    return {"id": row.id, "title": row.title}


def create_report(db: Database, consultation_id: int, proposal_id: int, token_hash: str | None, form: ReportForm,
                  now: datetime) -> int:
    with db.write() as s:
        status = s.scalar(
            select(m.Proposal.status).where(m.Proposal.id == proposal_id, m.Proposal.consultation_id == consultation_id)
        )
        _check_reportable(status)
        report = m.ProposalReport(
            proposal_id=proposal_id, consultation_id=consultation_id, reason=form.reason, created_at=now,
            respondent_id=respondent_id(s, consultation_id, token_hash),
        )
        s.add(report)
        s.flush()
        return report.id
