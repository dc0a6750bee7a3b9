"""Hints while typing: ``ProposalIndex.search(..., partial=True)``."""

from __future__ import annotations

import json
import random
import statistics
import time

import pytest

from idmx.matching import HINT_THRESHOLD, ProposalIndex
from idmx.paths import seeds_dir

GASOLINE = {
    "Precios diarios de gasolina y diésel por estación de servicio",
    "Cuánto cuesta el combustible en cada gasolinera, actualizado todos los días",
}
AIR = {"Calidad del aire por municipio", "Datos municipales de calidad del aire",
       "Calidad del aire por estación de monitoreo"}


@pytest.fixture(scope="module")
def demo() -> tuple[ProposalIndex, dict[int, str]]:
    proposals = json.loads((seeds_dir() / "demo_proposals.json").read_text(encoding="utf-8"))
    titles = {i: p["title"] for i, p in enumerate(proposals)}
    return ProposalIndex(titles.items()), titles


def hint_titles(demo, query: str, limit: int = 5) -> list[str]:
    index, titles = demo
    return [titles[i] for i, _ in index.search(query, limit=limit, partial=True)]


@pytest.mark.parametrize("query", ["gasol", "precios de la gas", "Precios de la gasolina", "gasolna",
                                   "cuanto cuesta la gasolina", "estaciones de serv", "combus"])
def test_partial_titles_surface_the_gasoline_proposals(demo, query):
    assert set(hint_titles(demo, query)[:2]) == GASOLINE


@pytest.mark.parametrize("query", ["Calidad del a", "calidad del ai", "contaminación del aire"])
def test_phrases_are_completed(demo, query):
    assert set(hint_titles(demo, query)[:3]) == AIR


def test_the_last_word_is_complete_after_a_space(demo):
    # "gas" may still become "gasolina"; "gas " is the word gas, which no title mentions.
    assert set(hint_titles(demo, "gas")) >= GASOLINE
    assert hint_titles(demo, "gas ") == []


@pytest.mark.parametrize("query", ["", "   ", "ga", "datos de la", "¿cuál es el", "zzzz"])
def test_no_hints_without_content(demo, query):
    index, _ = demo
    assert index.search(query, partial=True) == []


def test_hints_are_bounded_sorted_and_limited(demo):
    index, _ = demo
    for query in ("escuel", "precio", "municipio", "hospi", "delitos por mun"):
        hits = index.search(query, limit=3, partial=True)
        assert len(hits) <= 3
        assert all(HINT_THRESHOLD <= s <= 1.0 for _, s in hits)
        assert hits == sorted(hits, key=lambda h: (-h[1], h[0]))
    assert index.search("escuel", limit=0, partial=True) == []


def test_hints_do_not_change_full_search(demo):
    # partial=False keeps the whole-request score used for duplicates.
    index, _ = demo
    assert index.search("gasol") == []
    assert index.search("Precios de la gasolina por gasolinera")


def test_hint_latency_among_5000_proposals():
    rng = random.Random(3)
    heads = ["Precios de la gasolina", "Calidad del aire", "Incidencia delictiva", "Escuelas públicas",
             "Hospitales del IMSS", "Contratos de obra pública", "Presas de Conagua", "Multas de tránsito"]
    tails = ["por municipio", "por estado", "en la CDMX", "mensual", "2023", "por colonia", ""]
    index = ProposalIndex((i, f"{rng.choice(heads)} {rng.choice(tails)} {i}") for i in range(5000))
    queries = ["gasol", "precios de la gas", "calidad del a", "escue", "hospitales del im", "multas de t"]
    index.search(queries[0], partial=True)  # warm the IDF cache, as a live index would be
    times = []
    for q in queries * 3:
        start = time.perf_counter()
        index.search(q, partial=True)
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.05
