"""The vote hot path: one vote of a per-proposal mode (approval, rating...) in one connection and one transaction.

Two statements for a returning respondent's rating, which is most votes: one read of the
consultation, the proposal and the respondent (locking the proposal row against a concurrent merge
or hide on PostgreSQL, where the respondent's row is also locked so their own votes queue), then one write; approval adds the exposure first, as its own statement. (A
data-modifying CTE would save PostgreSQL that round trip, but the tally triggers of both rows would
then run at the end of the one statement, each seeing the other's row, and count the supporter
twice.) A first-time respondent costs one more insert, and their first action one update; a
returning one is never rewritten, so a vote does not leave a dead respondent row behind on
PostgreSQL.

The statements are built once per dialect with bind parameters and run through Core: building an
ON CONFLICT statement (`excluded` copies the table) and ORM unit-of-work bookkeeping cost more than
the database work itself (`benchmarks/vote_ingest.py`, `benchmarks/profile_vote.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from idmx import votemodes
from idmx.consultations import rules
from idmx.consultations.participants import Participant, as_participant
from idmx.consultations.rules import check_open, check_votable
from idmx.consultations.services import Arrivals
from idmx.db import Database
from idmx.db import models as m
from idmx.enums import ConsultationStatus, ResultsVisibility
from idmx.errors import Conflict, NotFound
from idmx.i18n import gettext as _

C, P, R, V, E = (t.__table__ for t in (m.Consultation, m.Proposal, m.Respondent, m.Vote, m.Exposure))


@dataclass(frozen=True)
class VoteTarget:
    """What the vote path knows of the consultation; enough to render the vote control."""

    id: int
    slug: str
    status: ConsultationStatus
    opens_at: datetime
    closes_at: datetime
    voting_method: str
    segment_required: bool
    results_visibility: ResultsVisibility  # whether the vote's answer may show the new count

    def phase(self, now: datetime) -> rules.Phase:
        return rules.phase(self, now)


@cache
def _statements(dialect: str) -> dict[str, Any]:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    target = (
        select(C.c.id, C.c.slug, C.c.status, C.c.opens_at, C.c.closes_at, C.c.voting_method, C.c.segment_required,
               C.c.results_visibility,
               P.c.status.label("proposal_status"), R.c.id.label("respondent_id"),
               R.c.segment_id, R.c.participated_at)
        .select_from(
            P.join(C, C.c.id == P.c.consultation_id)
            .outerjoin(R, (R.c.consultation_id == C.c.id) & (R.c.token_hash == bindparam("token_hash")))
        )
        .where(C.c.slug == bindparam("slug"), P.c.id == bindparam("proposal_id"))
        .with_for_update(read=True, of=P)
    )
    respondent = insert(R).values(
        consultation_id=bindparam("consultation_id"), token_hash=bindparam("token_hash"),
        organisation="", use_who="", use_purpose="", use_benefit="",
        created_at=bindparam("now"), participated_at=bindparam("now"),
    )
    # A concurrent first vote of the same respondent may have inserted the row since the read.
    respondent = respondent.on_conflict_do_update(
        index_elements=[R.c.consultation_id, R.c.token_hash],
        set_={"participated_at": func.coalesce(R.c.participated_at, respondent.excluded.participated_at)},
    ).returning(R.c.id, R.c.segment_id)
    participated = (
        update(R).where(R.c.id == bindparam("respondent_id"), R.c.participated_at.is_(None))
        .values(participated_at=bindparam("now"))
    )
    exposure = insert(E).values(
        respondent_id=bindparam("respondent_id"), proposal_id=bindparam("proposal_id"),
        consultation_id=bindparam("consultation_id"),
    ).on_conflict_do_nothing()
    vote = insert(V).values(
        consultation_id=bindparam("consultation_id"), proposal_id=bindparam("proposal_id"),
        respondent_id=bindparam("respondent_id"), value=bindparam("value"), cast_at=bindparam("now"),
    )
    vote = vote.on_conflict_do_update(
        index_elements=[V.c.respondent_id, V.c.proposal_id],
        set_={"value": vote.excluded.value, "cast_at": vote.excluded.cast_at},
    )
    withdraw = delete(V).where(V.c.respondent_id == bindparam("respondent_id"), V.c.proposal_id == bindparam("proposal_id"))
    # One respondent's votes, one at a time: their rows, and the counters the tally triggers keep on the
    # respondent, are then always locked in the same order (two of their votes at once deadlocked).
    own = select(R.c.id).where(R.c.id == bindparam("respondent_id")).with_for_update()
    # The proposal's support after the vote, from the tallies the triggers keep in this transaction
    # (a few rows per proposal, however many votes it has): what lists show, swapped into the page.
    T = m.VoteTally.__table__
    support = select(func.sum(T.c.supporters), func.sum(T.c.n), func.sum(T.c.total)).where(
        T.c.consultation_id == bindparam("consultation_id"), T.c.proposal_id == bindparam("proposal_id"))
    st = {"target": target, "respondent": respondent, "participated": participated, "exposure": exposure,
          "vote": vote, "withdraw": withdraw, "own": own, "support": support}
    return st


def cast(db: Database, slug: str, proposal_id: int, who: Participant | str, form: Mapping[str, Any], now: datetime,
         arrivals: Arrivals | None = None) -> tuple[VoteTarget, votemodes.VoteMode, int | None, dict[str, float] | None]:
    """Store one vote of a per-proposal mode (`idmx.votemodes`), parsed strictly from `form`; a new answer
    replaces the old, and a withdrawn approval (None) deletes it. Returns what was stored, and the
    proposal's support as lists show it (``value``, ``votes``) when results are public, else None."""
    st = _statements(db.engine.dialect.name)
    postgres = db.engine.dialect.name == "postgresql"
    who = as_participant(who)
    token_hash = who.token_hash
    with db.write_connection() as conn:
        row = conn.execute(st["target"], {"slug": slug, "proposal_id": proposal_id, "token_hash": token_hash}).first()
        if row is None:
            raise NotFound(_("There is no proposal at this address."))
        target = VoteTarget(row.id, row.slug, row.status, row.opens_at, row.closes_at, row.voting_method, row.segment_required,
                            row.results_visibility)
        if target.status != ConsultationStatus.published:
            raise NotFound(_("There is no consultation at this address."))
        check_open(target, now)
        mode = votemodes.get(target.voting_method)
        if not mode.per_proposal:
            raise Conflict(_("This consultation compares proposals in pairs; use the comparison page."))
        value = mode.parse(form)
        check_votable(row.proposal_status)
        params = {"consultation_id": target.id, "proposal_id": proposal_id, "now": now}
        respondent_id, segment_id = row.respondent_id, row.segment_id
        created = respondent_id is None
        if created:
            respondent_id, segment_id = conn.execute(st["respondent"], {**params, "token_hash": token_hash}).one()
        else:
            if postgres:  # SQLite runs one writer at a time anyway
                conn.execute(st["own"], {"respondent_id": respondent_id})
            if row.participated_at is None:
                conn.execute(st["participated"], {"respondent_id": respondent_id, "now": now})
        if target.segment_required and segment_id is None:
            raise Conflict(_("This consultation asks every participant for their sector first. Nothing was saved."))
        params["respondent_id"] = respondent_id
        write, write_params = ("withdraw", params) if value is None else ("vote", {**params, "value": value})
        if mode.records_exposures:
            conn.execute(st["exposure"], params)
        conn.execute(st[write], write_params)
        support = _support(conn, st, mode, params) if rules.results_visible(target, now) else None
    if created and arrivals is not None:
        arrivals.note(db, target.id, respondent_id, who)
    return target, mode, value, support


def _support(conn, st: dict[str, Any], mode: votemodes.VoteMode, params: dict[str, Any]) -> dict[str, float] | None:
    if mode.statistics not in ("approval", "rating"):  # a mode without tallies: the page keeps its figure
        return None
    supporters, n, total = conn.execute(st["support"], params).one()
    if mode.support == "mean":
        return {"value": float(total or 0) / n if n else 0.0, "votes": int(n or 0)}
    return {"value": float(supporters or 0), "votes": int(supporters or 0)}
