"""Suspicious respondents in the database: find the fast and the patterned (`idmx.ranking.suspicion`),
store why in `m.RespondentFlag` (bursts are stored as respondents arrive: `consultations.services.Arrivals`),
and list them for staff and the public count.

The worker looks at every open consultation every few minutes (`flag_open`), and at a consultation
again just before its ranking is computed (`services.refresh_due`'s ``prepare``). A flag is never
removed by these checks: a respondent flagged once stays flagged, with the reason it had.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import func, select

from idmx import clock, votemodes
from idmx.db import Database
from idmx.db import models as m
from idmx.db.upsert import insert_for
from idmx.enums import ConsultationStatus
from idmx.i18n import localised
from idmx.ranking import queries, suspicion

__all__ = ["Flag", "FlagCounts", "counts", "flag_consultation", "flag_open", "listing"]

# A consultation is still looked at for this long after it closed (late votes are refused, but the
# last minutes' votes may not have been looked at yet).
AFTER_CLOSING = timedelta(days=1)


def _answers(kind: str):
    """The table of a mode's answers, with its respondent and time columns."""
    table = m.PairwiseVote if kind == "pairwise" else m.Vote
    return table, table.respondent_id, table.cast_at


def flag_consultation(db: Database, consultation_id: int) -> dict[str, int]:
    """Look for fast and patterned respondents in one consultation and flag them (already flagged ones
    keep their flag). Returns how many of each were found."""
    with db.read() as s:
        queries.consistent_snapshot(s)
        method = s.scalar(select(m.Consultation.voting_method).where(m.Consultation.id == consultation_id))
        if method is None:
            return {}
        kind = votemodes.get(str(method)).statistics
        rules = suspicion.rules_for(kind)
        table, respondent, cast_at = _answers(kind)
        fast = {}
        for rid, n, first, last in s.execute(
            select(respondent, func.count(), func.min(cast_at), func.max(cast_at))
            .where(table.consultation_id == consultation_id)
            .group_by(respondent)
            .having(func.count() >= rules.fast_min_answers)
        ):
            detail = suspicion.fast_answers(int(n), first, last, rules)
            if detail is not None:
                fast[int(rid)] = detail
        parts = list(queries.vote_arrays(s, consultation_id, kind))
    rows = np.concatenate(parts) if parts else np.zeros((0, 3), dtype=np.int64)
    patterned = suspicion.pattern_groups(*suspicion.answer_signatures(rows, kind), rules)
    found = [("fast", rid, detail) for rid, detail in fast.items()]
    found += [("pattern", rid, detail) for rid, detail in patterned.items()]
    if found:
        now = clock.now()
        with db.write() as s:
            s.execute(insert_for(s, m.RespondentFlag.__table__).on_conflict_do_nothing(), [
                {"consultation_id": consultation_id, "respondent_id": rid, "kind": flag, "detail": detail,
                 "flagged_at": now}
                for flag, rid, detail in found
            ])
    return {"fast": len(fast), "pattern": len(patterned)}


def flag_open(db: Database, now: datetime | None = None) -> dict[int, dict[str, int]]:
    """`flag_consultation` for every published consultation open now or closed within `AFTER_CLOSING`."""
    now = now or clock.now()
    c = m.Consultation
    with db.read() as s:
        ids = list(s.scalars(select(c.id).where(
            c.status == ConsultationStatus.published, c.opens_at <= now, c.closes_at > now - AFTER_CLOSING
        ).order_by(c.id)))
    return {cid: flag_consultation(db, cid) for cid in ids}


@dataclass(frozen=True)
class Flag:
    respondent_id: int
    kind: str
    reason: str  # in the active language
    flagged_at: datetime
    segment: str | None  # the sector the respondent stated (its name), if any
    answers: int  # how many answers they gave


@dataclass(frozen=True)
class FlagCounts:
    respondents: int  # flagged respondents (each counted once)
    by_kind: dict[str, int]


def listing(db: Database, consultation_id: int, *, limit: int = 500) -> list[Flag]:
    """The consultation's flags, newest first, each with its reason (staff only: respondent ids are internal)."""
    f, r = m.RespondentFlag, m.Respondent
    with db.read() as s:
        kind = votemodes.get(str(s.scalar(select(m.Consultation.voting_method)
                                          .where(m.Consultation.id == consultation_id)))).statistics
        answers = r.n_votes if kind != "pairwise" else (
            select(func.count()).where(m.PairwiseVote.respondent_id == r.id).scalar_subquery())
        rows = s.execute(
            select(f.respondent_id, f.kind, f.detail, f.flagged_at, m.Segment.name_es, m.Segment.name_en, answers)
            .join(r, r.id == f.respondent_id)
            .outerjoin(m.Segment, m.Segment.id == r.segment_id)
            .where(f.consultation_id == consultation_id)
            .order_by(f.flagged_at.desc(), f.respondent_id, f.kind)
            .limit(limit)
        ).all()
    return [Flag(int(rid), kind, suspicion.flag_label(kind, detail), at, localised(es, en) if es else None, int(n or 0))
            for rid, kind, detail, at, es, en, n in rows]


def counts(db: Database, consultation_id: int) -> FlagCounts:
    f = m.RespondentFlag
    with db.read() as s:
        by_kind = dict(s.execute(select(f.kind, func.count()).where(f.consultation_id == consultation_id)
                                 .group_by(f.kind)).all())
        total = s.scalar(select(func.count(func.distinct(f.respondent_id))).where(f.consultation_id == consultation_id))
    return FlagCounts(int(total or 0), {k: int(v) for k, v in by_kind.items()})
