"""Proposal search and similar-proposal hints in the database (`idmx.matching.retrieval` says what is
indexed and asked): SQLite's FTS5 table ``proposal_search_fts`` or PostgreSQL's GIN indexes over
``proposal_search`` (migration 0015) find the candidates; the Spanish matcher scores them.

``proposal_search`` rows are written here: a proposal without one (new, edited, or analysed by an older
thesaurus) is analysed by the next search of its consultation, which then finds it like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    and_,
    column,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from idmx.db import Database
from idmx.db import models as m
from idmx.matching.retrieval import (
    Clause,
    analysis_version,
    completion_clauses,
    document,
    probe_terms,
    readings,
    score_hints,
    search_tokens,
    term_clauses,
    token,
)

PUBLISHED = m.ProposalStatus.published
# Must stay the expressions of the GIN indexes ix_proposal_search_<column>_fts (migration 0015), or
# PostgreSQL cannot use them.
_SIMPLE = literal_column("'simple'::regconfig")
_FTS = table("proposal_search_fts", column("rowid", Integer()))  # SQLite's FTS5 index (no model: a virtual table)
_S = m.ProposalSearch


# --- keeping the index -------------------------------------------------------------------------------


def refresh(db: Database, consultation_id: int) -> int:
    """Analyse the consultation's proposals that have no current row; returns how many."""
    version = analysis_version()
    with db.read() as s:
        # Rows belong to distinct proposals of the consultation, so equal counts mean none is missing:
        # two index counts, instead of joining every proposal on every search.
        missing = s.scalar(select(
            select(func.count()).where(m.Proposal.consultation_id == consultation_id).scalar_subquery()
            - select(func.count()).select_from(_S).where(_S.consultation_id == consultation_id, _S.analysis == version)
            .scalar_subquery()
        ))
        if not missing:
            return 0
        stale = s.execute(
            select(m.Proposal.id, m.Proposal.title, m.Proposal.description)
            .outerjoin(_S, _S.proposal_id == m.Proposal.id)
            .where(m.Proposal.consultation_id == consultation_id, or_(_S.proposal_id.is_(None), _S.analysis != version))
        ).all()
    with db.write() as s:
        for pid, title, description in stale:
            _store(s, consultation_id, pid, title, description or "", version)
    return len(stale)


def _store(s: Session, consultation_id: int, pid: int, title: str, description: str, version: str) -> None:
    doc = document(title, description)
    values = {"consultation_id": literal(consultation_id), "analysis": literal(version),
              "published": m.Proposal.status == PUBLISHED, "terms": literal(doc.terms),
              "words": literal(doc.words), "typo_keys": literal(doc.typo_keys), "body": literal(doc.body)}
    # Written only if the proposal still reads as analysed: an edit committed meanwhile (whose trigger
    # dropped the row) must not get the old text's row back.
    source = select(m.Proposal.id, *values.values()).where(
        m.Proposal.id == pid, m.Proposal.title == title, func.coalesce(m.Proposal.description, "") == description
    )
    dialect = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(_S.__table__).from_select(["proposal_id", *values], source)
    s.execute(stmt.on_conflict_do_update(
        index_elements=[_S.proposal_id], set_={c: getattr(stmt.excluded, c) for c in values}
    ))


# --- full-text queries ------------------------------------------------------------------------------


def _fts5(clauses: Sequence[Clause], joiner: str) -> str:
    return f" {joiner} ".join(f'{c.column} : "{c.token}"' + ("*" if c.prefix else "") for c in clauses)


def _tsquery(clauses: Sequence[Clause], joiner: str) -> str:
    return f" {joiner} ".join(f"{c.token}{':*' if c.prefix else ''}" for c in clauses)


def _matching(s: Session, clauses: Sequence[Clause], *, every: bool = False):
    """A condition on ``proposal_search`` rows: they hold any (or `every`) clause."""
    if s.get_bind().dialect.name == "sqlite":
        query = _fts5(clauses, "AND" if every else "OR")
        return _S.proposal_id.in_(select(_FTS.c.rowid).where(literal_column(_FTS.name).op("MATCH")(query)))
    by_column: dict[str, list[Clause]] = {}
    for c in clauses:
        by_column.setdefault(c.column, []).append(c)
    conditions = [
        func.to_tsvector(_SIMPLE, getattr(_S, column)).op("@@")(func.to_tsquery(_SIMPLE, _tsquery(group, "&" if every else "|")))
        for column, group in sorted(by_column.items())
    ]
    return and_(*conditions) if every else or_(*conditions)


# --- what the pages ask ------------------------------------------------------------------------------


def _published(s: Session, consultation_id: int, columns, clauses: Sequence[Clause]) -> Select:
    return select(*columns).select_from(_S).where(
        _S.consultation_id == consultation_id, _S.published.is_(True), _matching(s, clauses))


def _frequencies(s: Session, consultation_id: int, terms: Sequence[str]) -> dict[str, int]:
    """How many published proposals of the consultation hold each term: one statement, one index
    lookup per term."""
    if not terms:
        return {}
    counts = [
        _published(s, consultation_id, [literal(i).label("i"), func.count().label("n")], [Clause("terms", token(t))])
        for i, t in enumerate(terms)
    ]
    return {terms[i]: n for i, n in s.execute(union_all(*counts))}


def similar(db: Database, consultation_id: int, query: str, *, limit: int = 5) -> list[dict[str, Any]]:
    """Published proposals that look like the request `query` (the matcher's hint mode), best first.

    Four steps, all but the last in the database: the words a still unfinished last word may complete
    to; the document frequency of every term of every reading of the query; the proposals holding one
    of the terms a hint must share (`retrieval.probe_terms`); then the matcher scores those."""
    refresh(db, consultation_id)
    with db.read() as s:
        first = completion_clauses(query)
        words = [w for (ws,) in s.execute(_published(s, consultation_id, [_S.words], first)) for w in ws.split()] if first else []
        weights = readings(query, words)
        if not weights:
            return []
        size = s.scalar(select(func.count()).select_from(_S).where(
            _S.consultation_id == consultation_id, _S.published.is_(True))) or 0
        df = _frequencies(s, consultation_id, sorted(set().union(*weights)))
        probes = probe_terms(weights, df, size)
        if not probes:
            return []
        found = {pid: (ws, title) for pid, ws, title in s.execute(
            _published(s, consultation_id, [_S.proposal_id, _S.words, m.Proposal.title], term_clauses(probes))
            .join(m.Proposal, m.Proposal.id == _S.proposal_id))}
    if not found:
        return []
    hits = score_hints(query, sorted((pid, ws) for pid, (ws, _) in found.items()), size, df, limit=limit)
    return [{"id": pid, "title": found[pid][1], "score": score} for pid, score in hits]


def matching_condition(s: Session, query: str):
    """A condition on proposals: their title and description hold every searched term (accent- and
    case-blind, by the matcher's reading); nothing matches a query with nothing to search for.
    Call `refresh` for the consultation first."""
    tokens = search_tokens(query)
    if not tokens:
        return false()
    return m.Proposal.id.in_(select(_S.proposal_id).where(_matching(s, [Clause("body", t) for t in tokens], every=True)))
