"""Duplicate-proposal matching for Spanish (Mexican) dataset requests.

One scoring function serves three uses: hints while someone types a
proposal, the staff duplicate finder, and the ``idmx duplicates`` batch
command. Pure Python with no model and no service, and deterministic, so
SQLite and PostgreSQL deployments (and tests) get identical results.

API
---

Text:

- ``normalize(text) -> str``: lowercase, no accents, no punctuation.
- ``stem(word) -> str``: spelling-folded light stem of one normalised word.
- ``terms(text) -> frozenset[str]``: comparable terms (thesaurus concepts
  and stems of unknown words); generic and function words are absent.
- ``similarity(a, b) -> float``: corpus-free score in [0, 1], symmetric.

Index (scores use IDF over the indexed proposals):

- ``ProposalIndex(items=())`` with ``items`` an iterable of ``(id, text)``;
  ``add(id, text)``, ``remove(id)``, ``len()``, ``in``.
- ``search(query, limit=5, threshold=None, *, partial=False)
  -> [(id, score)]`` best first. ``partial=True`` is the hint mode for
  unfinished input ("gasol", "precios de la gas"): the last word is
  completed and proposals score by how much of the query they cover; use
  it for suggestions while someone types. ``partial=False`` scores whole
  requests like ``pairs`` does.
- ``similar_to(id, limit=5, threshold=THRESHOLD) -> [(id, score)]``.
- ``pairs(threshold=THRESHOLD) -> [(id_a, id_b, score)]`` all pairs at or
  above the threshold, best first.
- ``similarity(a, b)``, ``score(id_a, id_b)``.

Batch (``idmx.matching.duplicates``, re-exported here):

- ``find_pairs(rows, threshold=THRESHOLD) -> [(id_a, id_b, score)]``;
  ``rows`` are ``(id, title)`` or ``(id, title, description)``; ``id_a``
  is the id that comes first in ``rows``; best first, ties in input order.
- ``clusters(pairs) -> [[id, ...], ...]``: candidate duplicate groups from
  scored pairs, best first.
- ``read_proposals_csv(path) -> [ProposalRow]`` and
  ``write_pairs_csv(path, pairs)``: the ``idmx duplicates`` file contract
  (UTF-8, header ``id,title,description`` in, ``id_a,id_b,score`` out, ids
  kept exactly as written). Bad input raises ``ProposalsCSVError``, a
  ``ValueError`` with a one-line message.

Constants: ``THRESHOLD`` (pairs judged to ask for the same dataset) and
``HINT_THRESHOLD`` (hints).

How a title becomes comparable
------------------------------

1. ``normalize``: case, accents, punctuation and spacing stop mattering.
2. Each word becomes a *key*: its stem after a spelling fold for Mexican
   Spanish (c/s/z, b/v, ll/y, silent h), so "presio" and "precios" agree.
3. The curated thesaurus in ``seeds/thesaurus/`` is matched on keys,
   longest phrase first: synonyms map to one concept ("gasolina", "diésel",
   "combustible"), institution names and acronyms to one id ("Comisión
   Federal de Electricidad", "CFE"), informal questions to what they ask for
   ("¿cuánto cuesta...?" -> precio, "¿dónde hay...?" -> ubicación), and
   function words, generic request words ("datos", "registro", "número"),
   and where/when qualifiers ("municipio", "mensual") to low or no weight.
   A word one typo away from a thesaurus word is read as that word.
4. A request is then a weighted set of terms; word order is irrelevant.
   Weights are class weight times IDF in the corpus at hand.
5. Two requests score a blend of weighted Dice and the overlap coefficient
   (how much of the shorter request the longer one contains). Terms unknown
   to the thesaurus may still match as typos at a discount.
"""

from __future__ import annotations

from idmx.matching.analysis import term_weights, terms, tokens
from idmx.matching.duplicates import (
    ProposalRow,
    ProposalsCSVError,
    clusters,
    find_pairs,
    read_proposals_csv,
    write_pairs_csv,
)
from idmx.matching.index import HINT_THRESHOLD, THRESHOLD, ProposalIndex, similarity
from idmx.matching.text import normalize, stem
from idmx.matching.thesaurus import ThesaurusError, default_thesaurus

__all__ = [
    "HINT_THRESHOLD",
    "THRESHOLD",
    "ProposalIndex",
    "ProposalRow",
    "ProposalsCSVError",
    "ThesaurusError",
    "clusters",
    "default_thesaurus",
    "find_pairs",
    "normalize",
    "read_proposals_csv",
    "similarity",
    "stem",
    "term_weights",
    "terms",
    "tokens",
    "write_pairs_csv",
]
