"""`idmx seed`: reference data (idempotent upsert from `seeds/*.json`) and the demo consultations.

Reference rows are matched on their natural key (code, acronym, INEGI code), so running the seed twice,
or after an edit of a JSON file, converges on the file's content without duplicating anything.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from idmx import clock, votemodes
from idmx.calendar import services as calendar
from idmx.db import Database
from idmx.db import models as m
from idmx.paths import seeds_dir


def load_json(name: str) -> list[dict[str, Any]]:
    with open(seeds_dir() / name, encoding="utf-8") as fh:
        return json.load(fh)


def _upsert(session: Session, model: type[m.Base], key: str, rows: Iterable[dict[str, Any]]) -> int:
    existing = {getattr(obj, key): obj for obj in session.scalars(select(model))}
    added = 0
    for row in rows:
        obj = existing.get(row[key])
        if obj is None:
            session.add(model(**row))
            added += 1
        else:
            for column, value in row.items():
                setattr(obj, column, value)
    session.flush()
    return added


def _link_successors(session: Session, rows: Iterable[dict[str, Any]]) -> None:
    """Bodies abolished by a reform point to their successor (after every row exists, as a successor may
    come later in the file). Only links the file states are written: a link the central team set on the
    staff page for an institution the file does not mark stays as it is."""
    ids = dict(session.execute(select(m.Institution.acronym, m.Institution.id)).all())
    for row in rows:
        if row.get("successor"):
            session.execute(
                update(m.Institution).where(m.Institution.id == ids[row["acronym"]]).values(
                    successor_id=ids[row["successor"]], dissolved_on=date.fromisoformat(row["dissolved_on"]))
            )


def seed_reference(db: Database) -> dict[str, int]:
    """Segments, states, topics, institutions and legal grounds (and any new vote mode); returns rows added per table."""
    with db.write() as s:
        added = {
            "segments": _upsert(s, m.Segment, "code", load_json("segments.json")),
            "states": _upsert(s, m.State, "inegi_code", load_json("states.json")),
            "topics": _upsert(s, m.Topic, "code", load_json("topics.json")),
            "legal_bases": _upsert(s, m.LegalBasis, "code", load_json("legal_bases.json")),
        }
        state_ids = dict(s.execute(select(m.State.inegi_code, m.State.id)).all())
        institutions = [
            {
                "acronym": row["acronym"],
                "name_es": row["name_es"],
                "name_en": row["name_en"],
                "level": m.Level(row["level"]),
                "state_id": state_ids[row["state"]] if row.get("state") else None,
            }
            for row in load_json("institutions.json")
        ]
        added["institutions"] = _upsert(s, m.Institution, "acronym", institutions)
        _link_successors(s, load_json("institutions.json"))
    sync_vote_modes(db)  # the built-in rows come with the migration: this adds modes registered since
    calendar.seed(db)  # the official non-working days, only for years without any national day yet
    return added


def sync_vote_modes(db: Database) -> int:
    """Give every registered vote mode (`idmx.votemodes`) its row in ``vote_modes``; returns rows added.

    Rows of modes the code no longer registers stay: consultations that used them still refer to them.
    """
    rows = [{"code": mode.code, "statistics": mode.statistics} for mode in votemodes.all_modes()]
    with db.write() as s:
        return _upsert(s, m.VoteModeRow, "code", rows)


# --- demo -------------------------------------------------------------------------------------------

DEMO_SEED = 20170615  # fixed: the demo is the same on every machine

# Shares of each segment among demo respondents. Public officials are heavily over-represented (as
# when an institution circulates the survey internally), so the weighted ranking visibly differs.
DEMO_SEGMENT_MIX = {
    "public_officials": 0.46,
    "citizens": 0.18,
    "academia": 0.12,
    "private_sector": 0.09,
    "journalists": 0.06,
    "civil_society": 0.05,
    None: 0.04,  # skipped the question
}

# How much each segment cares about each topic beyond a proposal's general appeal.
DEMO_AFFINITY = {
    "public_officials": {"government_transparency": 0.8, "public_spending_procurement": -0.6},
    "journalists": {"public_spending_procurement": 1.2, "security_justice": 0.9},
    "civil_society": {"social_development": 1.0, "public_spending_procurement": 0.8},
    "academia": {"environment": 0.7, "health": 0.6, "science_technology": 0.9},
    "private_sector": {"energy": 1.1, "economy_finance": 0.9, "transport_infrastructure": 0.6},
    "citizens": {"security_justice": 0.8, "health": 0.7, "water": 0.5},
}


@dataclass(frozen=True)
class DemoConsultation:
    slug: str
    title_es: str
    title_en: str
    description_es: str
    description_en: str
    institution: str | None
    method: m.VotingMethod
    mode: m.ProposalMode
    opens_in_days: int
    lasts_days: int
    respondents: int
    proposals_from: str | None  # which group of demo_proposals.json it holds
    visibility: m.ResultsVisibility = m.ResultsVisibility.after_close


DEMO_CONSULTATIONS = [
    DemoConsultation(
        "idmx-2026", "Consulta nacional IDMX 2026", "National IDMX consultation 2026",
        "Primera ronda: calificación de importancia de una lista fija de conjuntos de datos.",
        "First round: importance ratings of a fixed list of datasets.",
        None, m.VotingMethod.rating, m.ProposalMode.fixed, -400, 60, 1200, "national",
    ),
    DemoConsultation(
        "idmx-2027", "Consulta nacional IDMX 2027",
        "National IDMX consultation 2027",
        "¿Qué datos públicos necesitas? Propón conjuntos de datos y apoya los de otras personas. "
        "El resultado define qué publicarán primero las instituciones.",
        "Which public data do you need? Propose datasets and support other people's proposals. "
        "The result decides what institutions publish first.",
        None, m.VotingMethod.approval, m.ProposalMode.moderated, -20, 60, 3000, "national",
        m.ResultsVisibility.live,
    ),
    DemoConsultation(
        "semarnat-ambiente-2027", "Datos ambientales que necesitas (SEMARNAT)",
        "Environmental data you need (SEMARNAT)",
        "La SEMARNAT pregunta qué datos ambientales publicar primero. Elige entre dos propuestas.",
        "SEMARNAT asks which environmental data to publish first. Choose between two proposals.",
        "SEMARNAT", m.VotingMethod.pairwise, m.ProposalMode.open, -10, 45, 800, "institution",
        m.ResultsVisibility.live,
    ),
    DemoConsultation(
        "inegi-estadistica-2027", "Prioridades de información estadística (INEGI)",
        "Statistical information priorities (INEGI)",
        "Próxima consulta del INEGI sobre sus programas de información.",
        "Upcoming INEGI consultation on its information programmes.",
        "INEGI", m.VotingMethod.approval, m.ProposalMode.open, 15, 30, 0, None,
    ),
]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def seed_demo(db: Database, now: datetime | None = None) -> dict[str, int]:
    """Create the demo consultations with synthetic respondents and votes; skip any that exist."""
    now = (now or clock.now()).replace(microsecond=0)
    proposals = load_json("demo_proposals.json")
    created: dict[str, int] = {}
    with db.write() as s:
        ref = _Reference.load(s)
        previous_id = None
        for spec in DEMO_CONSULTATIONS:
            # Each consultation draws from its own stream, so skipping one keeps the others identical.
            sub_rng = np.random.default_rng([DEMO_SEED, len(spec.slug), sum(map(ord, spec.slug))])
            existing = s.scalar(select(m.Consultation.id).where(m.Consultation.slug == spec.slug))
            if existing is not None:
                previous_id = existing if spec.institution is None else previous_id
                continue
            cid = _create_demo_consultation(s, spec, ref, proposals, now, previous_id, sub_rng)
            if spec.institution is None:
                previous_id = cid
            created[spec.slug] = s.scalar(
                select(func.count()).select_from(m.Respondent).where(m.Respondent.consultation_id == cid)
            ) or 0
    _rank_demo(db, created)
    return created


def _rank_demo(db: Database, slugs: Iterable[str]) -> None:
    """Store a ranking run for each new demo consultation with votes, so the IDMX list can be built at once."""
    from idmx.ranking import pipeline
    from idmx.ranking import services as runs

    with db.read() as s:
        ids = list(s.scalars(select(m.Consultation.id).where(m.Consultation.slug.in_(list(slugs)))))
    for cid in ids:
        try:
            runs.run_for_consultation(db, cid)
        except pipeline.RankingError:
            pass  # nothing to rank (no votes yet)


@dataclass
class _Reference:
    segments: dict[str, int]
    states: list[int]
    institutions: dict[str, int]
    topics: dict[str, int]

    @classmethod
    def load(cls, s: Session) -> "_Reference":
        return cls(
            segments=dict(s.execute(select(m.Segment.code, m.Segment.id)).all()),
            states=list(s.scalars(select(m.State.id).order_by(m.State.inegi_code))),
            institutions=dict(s.execute(select(m.Institution.acronym, m.Institution.id)).all()),
            topics=dict(s.execute(select(m.Topic.code, m.Topic.id)).all()),
        )


def _create_demo_consultation(
    s: Session,
    spec: DemoConsultation,
    ref: _Reference,
    proposals: list[dict[str, Any]],
    now: datetime,
    previous_id: int | None,
    rng: np.random.Generator,
) -> int:
    opens = now + timedelta(days=spec.opens_in_days)
    consultation = m.Consultation(
        slug=spec.slug,
        title_es=spec.title_es,
        title_en=spec.title_en,
        description_es=spec.description_es,
        description_en=spec.description_en,
        institution_id=ref.institutions[spec.institution] if spec.institution else None,
        previous_id=previous_id if spec.institution is None else None,
        status=m.ConsultationStatus.published,
        voting_method=spec.method,
        proposal_mode=spec.mode,
        results_visibility=spec.visibility,
        opens_at=opens,
        closes_at=opens + timedelta(days=spec.lasts_days),
        created_at=opens - timedelta(days=7),
    )
    s.add(consultation)
    s.flush()
    cid = consultation.id
    if spec.proposals_from is None:
        return cid

    chosen = [p for p in proposals if p.get("consultation", "national") == spec.proposals_from]
    rows = [
        {
            "consultation_id": cid,
            "title": p["title"],
            "description": p.get("description", ""),
            "institution_id": ref.institutions.get(p.get("institution") or ""),
            "topic_id": ref.topics.get(p.get("topic") or ""),
            "intended_use": p.get("intended_use", ""),
            "status": m.ProposalStatus.published,
            "from_fixed_list": spec.mode == m.ProposalMode.fixed,
            "created_at": opens + timedelta(hours=int(i) * 7),
            "hidden_reason": "",
        }
        for i, p in enumerate(chosen)
    ]
    s.execute(insert(m.Proposal), rows)
    prop = s.execute(
        select(m.Proposal.id, m.Proposal.topic_id).where(m.Proposal.consultation_id == cid).order_by(m.Proposal.id)
    ).all()
    prop_ids = np.array([p.id for p in prop])
    topic_by_id = {tid: code for code, tid in ref.topics.items()}
    prop_topics = [topic_by_id.get(p.topic_id, "") for p in prop]
    appeal = rng.normal(0.0, 1.0, size=len(prop_ids))

    segments = list(DEMO_SEGMENT_MIX)
    mix = np.array(list(DEMO_SEGMENT_MIX.values()))
    seg_idx = rng.choice(len(segments), size=spec.respondents, p=mix / mix.sum())
    # States follow a rough population skew (Estado de México, CDMX, Jalisco, Veracruz ... first).
    state_w = rng.gamma(1.2, 1.0, size=len(ref.states))
    state_idx = rng.choice(len(ref.states), size=spec.respondents, p=state_w / state_w.sum())
    respondent_rows = [
        {
            "consultation_id": cid,
            "token_hash": token_hash(f"demo:{spec.slug}:{i}"),
            "segment_id": ref.segments.get(segments[seg_idx[i]]) if segments[seg_idx[i]] else None,
            "state_id": ref.states[state_idx[i]],
            "organisation": "",
            "use_who": "",
            "use_purpose": "",
            "use_benefit": "",
            "created_at": opens + timedelta(minutes=int(i)),
            "participated_at": opens + timedelta(minutes=int(i)),
        }
        for i in range(spec.respondents)
    ]
    s.execute(insert(m.Respondent), respondent_rows)
    resp_ids = np.array(
        s.scalars(select(m.Respondent.id).where(m.Respondent.consultation_id == cid).order_by(m.Respondent.id)).all()
    )

    # Utility of proposal j for respondent i: general appeal + segment-topic affinity + noise.
    affinity = np.array(
        [[DEMO_AFFINITY.get(seg or "", {}).get(t, 0.0) for t in prop_topics] for seg in segments]
    )
    utility = appeal[None, :] + affinity[seg_idx]
    if spec.method == m.VotingMethod.pairwise:
        _demo_pairwise(s, cid, resp_ids, prop_ids, utility, rng, opens)
    else:
        _demo_votes(s, cid, resp_ids, prop_ids, utility, spec.method, rng, opens)
    return cid


def _demo_votes(s, cid, resp_ids, prop_ids, utility, method, rng, opens) -> None:
    votes, exposures = [], []
    n_prop = len(prop_ids)
    for i, rid in enumerate(resp_ids.tolist()):
        seen = rng.choice(n_prop, size=min(n_prop, int(rng.integers(8, 20))), replace=False)
        u = utility[i, seen] + rng.normal(0, 0.8, size=len(seen))
        if method == m.VotingMethod.approval:
            supported = seen[u > 0.9]
            exposures.extend(
                {"respondent_id": rid, "proposal_id": int(prop_ids[j]), "consultation_id": cid} for j in seen
            )
            values = [(int(prop_ids[j]), 1) for j in supported]
        else:
            stars = np.clip(np.round(3 + u), 1, 5).astype(int)
            values = [(int(prop_ids[j]), int(v)) for j, v in zip(seen, stars)]
        # A few seconds per answer, as people take (`idmx.ranking.suspicion` flags faster ones).
        votes.extend(
            {"consultation_id": cid, "proposal_id": pid, "respondent_id": rid, "value": v,
             "cast_at": opens + timedelta(minutes=i, seconds=4 * k)}
            for k, (pid, v) in enumerate(values)
        )
    if exposures:
        s.execute(insert(m.Exposure), exposures)
    if votes:
        s.execute(insert(m.Vote), votes)


def _demo_pairwise(s, cid, resp_ids, prop_ids, utility, rng, opens) -> None:
    rows = []
    n_prop = len(prop_ids)
    for i, rid in enumerate(resp_ids.tolist()):
        answered: set[frozenset[int]] = set()
        for k in range(int(rng.integers(5, 15))):
            a, b = rng.choice(n_prop, size=2, replace=False)
            p_a = 1.0 / (1.0 + np.exp(utility[i, b] - utility[i, a]))
            r = rng.random()
            winner = None if r < 0.05 else (a if rng.random() < p_a else b)
            if frozenset((a, b)) in answered:  # one answer per respondent and pair, as the site keeps
                continue
            answered.add(frozenset((a, b)))
            rows.append({
                "consultation_id": cid, "respondent_id": rid,
                "left_id": int(prop_ids[a]), "right_id": int(prop_ids[b]),
                "winner_id": int(prop_ids[winner]) if winner is not None else None,
                "cast_at": opens + timedelta(minutes=i, seconds=5 * k),
            })
    s.execute(insert(m.PairwiseVote), rows)


def counts(db: Database) -> dict[str, int]:
    """Rows per table: what `idmx seed` reports and what the idempotency test compares."""
    tables = [m.Segment, m.State, m.Topic, m.Institution, m.LegalBasis, m.Consultation, m.Proposal,
              m.Respondent, m.Vote, m.Exposure, m.PairwiseVote]
    with db.read() as s:
        return {t.__tablename__: s.scalar(select(func.count()).select_from(t)) or 0 for t in tables}
