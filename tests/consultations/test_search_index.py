"""Search and similar-proposal hints in the database (`idmx.consultations.queries`), on both databases:
the full-text index finds the candidates and the Spanish matcher scores them, with the results the
matcher gives over the whole consultation (the old path, `ProposalIndex` over every proposal)."""

from __future__ import annotations

import random

from sqlalchemy import select, update

from idmx.consultations import queries as search
from idmx.db import models as m
from idmx.matching import HINT_THRESHOLD, ProposalIndex
from tests import factories

TITLES = [
    "Precios diarios de la gasolina por estación de servicio",
    "Calidad del aire en la Ciudad de México",
    "Incidencia delictiva por municipio",
    "Camas de hospital del IMSS por unidad médica",
    "Matrícula de escuelas públicas por grado",
    "Contratos de obra pública de la CFE",
]


def browse_ids(db, consultation_id: int, q: str) -> set[int]:
    search.refresh(db, consultation_id)
    with db.read() as s:
        return set(s.scalars(select(m.Proposal.id).where(
            m.Proposal.consultation_id == consultation_id, m.Proposal.status == m.ProposalStatus.published,
            search.matching_condition(s, q))))


def hint_ids(db, consultation_id: int, q: str) -> list[int]:
    return [h["id"] for h in search.similar(db, consultation_id, q)]


def test_search_is_blind_to_accents_case_and_inflection(db):
    c = factories.consultation(db)
    ids = dict(zip(TITLES, factories.proposals(db, c.id, TITLES), strict=True))
    fuel = ids[TITLES[0]]
    assert browse_ids(db, c.id, "GASOLINA") == {fuel}
    assert browse_ids(db, c.id, "estacion") == {fuel}  # no accent typed, one in the title
    assert browse_ids(db, c.id, "precio gasolinas") == {fuel}  # singular and plural, any order
    assert browse_ids(db, c.id, "combustible") == {fuel}  # the thesaurus: gasolina is a fuel
    assert browse_ids(db, c.id, "gasolina hospital") == set()  # every term must be there
    # Only function words: then every word must be there, as written.
    assert browse_ids(db, c.id, "de la") == {ids[TITLES[0]], ids[TITLES[1]], ids[TITLES[5]]}
    # Hints: typed word by word, with a typo and without accents.
    assert hint_ids(db, c.id, "precios de la gasol") == [fuel]
    assert hint_ids(db, c.id, "precio de gasolna ") == [fuel]
    assert hint_ids(db, c.id, "camas de hospital imss ") == [ids[TITLES[3]]]


def test_hidden_pending_merged_and_other_consultations_are_not_found(db):
    c = factories.consultation(db)
    other = factories.consultation(db, "otra")
    [visible, hidden, pending, merged] = factories.proposals(db, c.id, ["Precio de la gasolina"] * 4)
    [elsewhere] = factories.proposals(db, other.id, ["Precio de la gasolina"])
    with db.write() as s:
        s.execute(update(m.Proposal).where(m.Proposal.id == hidden).values(status=m.ProposalStatus.hidden))
        s.execute(update(m.Proposal).where(m.Proposal.id == pending).values(status=m.ProposalStatus.pending))
        s.execute(update(m.Proposal).where(m.Proposal.id == merged)
                  .values(status=m.ProposalStatus.merged, merged_into_id=visible))
    assert browse_ids(db, c.id, "gasolina") == {visible}
    assert hint_ids(db, c.id, "precio de la gasolina ") == [visible]
    assert browse_ids(db, other.id, "gasolina") == {elsewhere}


def test_a_proposal_hidden_after_it_was_indexed_is_no_longer_found(db):
    c = factories.consultation(db)
    [pid, other] = factories.proposals(db, c.id, ["Precio de la gasolina", "Precios de la gasolina"])
    assert hint_ids(db, c.id, "precio de la gasolina ") == [pid, other]
    with db.write() as s:  # the database's trigger keeps the index's published flag
        s.execute(update(m.Proposal).where(m.Proposal.id == pid).values(status=m.ProposalStatus.hidden))
    assert hint_ids(db, c.id, "precio de la gasolina ") == [other]
    assert browse_ids(db, c.id, "gasolina") == {other}
    with db.write() as s:
        s.execute(update(m.Proposal).where(m.Proposal.id == pid).values(status=m.ProposalStatus.published))
    assert set(hint_ids(db, c.id, "precio de la gasolina ")) == {pid, other}


def test_an_edited_proposal_is_found_by_its_new_title_only(db):
    c = factories.consultation(db)
    [pid] = factories.proposals(db, c.id, ["Precio de la gasolina"])
    assert browse_ids(db, c.id, "gasolina") == {pid}
    with db.write() as s:  # any writer, not only the app: the database's trigger drops the stale row
        s.execute(update(m.Proposal).where(m.Proposal.id == pid).values(title="Calidad del agua potable"))
    with db.read() as s:
        assert s.get(m.ProposalSearch, pid) is None
    assert browse_ids(db, c.id, "gasolina") == set()
    assert browse_ids(db, c.id, "agua potable") == {pid}


def test_a_deleted_proposal_leaves_nothing_in_the_index(db):
    c = factories.consultation(db)
    [pid] = factories.proposals(db, c.id, ["Precio de la gasolina"])
    search.refresh(db, c.id)
    with db.write() as s:
        s.execute(m.Proposal.__table__.delete().where(m.Proposal.id == pid))
    with db.read() as s:
        assert s.scalars(select(m.ProposalSearch)).all() == []
    assert browse_ids(db, c.id, "gasolina") == set()


def test_hints_are_the_matchers_over_the_whole_consultation(db):
    """The database only narrows the field: on a few hundred varied titles, every hint is one that
    `ProposalIndex` over all of them gives, at the same rank up to near ties. (A candidate's words that
    are not in the query are weighed over the candidates, not the consultation; on this corpus that moves
    a score by less than 0.02.)"""
    from benchmarks.duplicates_quality import synthetic_titles

    c = factories.consultation(db)
    titles = synthetic_titles(300, seed=11)
    ids = factories.proposals(db, c.id, titles)
    old = ProposalIndex(zip(ids, titles, strict=True))
    rng = random.Random(5)
    queries = [t[: rng.randint(3, len(t))] for t in synthetic_titles(60, seed=12)]
    queries += [t + " " for t in synthetic_titles(20, seed=13)]
    same = 0
    for q in queries:
        expected = [score for _, score in old.search(q, limit=5, threshold=HINT_THRESHOLD, partial=True)]
        everything = dict(old.search(q, limit=len(ids), threshold=HINT_THRESHOLD, partial=True))
        got = hint_ids(db, c.id, q)
        assert all(pid in everything for pid in got), q  # never a hint the matcher would not give
        assert len(expected) - 1 <= len(got) <= len(expected), q
        assert all(abs(everything[pid] - score) < 0.02 for pid, score in zip(got, expected)), q
        same += [everything[pid] for pid in got] == expected
    assert same >= 0.85 * len(queries)
