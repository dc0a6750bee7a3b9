"""From a text to weighted comparable terms."""

from __future__ import annotations

from functools import lru_cache

from idmx.matching.text import normalize
from idmx.matching.thesaurus import default_thesaurus


def tokens(text: str) -> list[str]:
    """Normalised words of a text."""
    return normalize(text).split()


@lru_cache(maxsize=32768)
def term_weights(text: str) -> dict[str, float]:
    """Term -> class weight (before IDF); stop and generic words are absent.

    A term is a thesaurus concept ("precio", "combustible", "imss") or the
    stem of a word the thesaurus does not know. When a term occurs twice, its
    heavier reading wins. The result is cached: treat it as read-only.
    """
    out: dict[str, float] = {}
    for term, weight in default_thesaurus().read(tokens(text)):
        if weight > 0.0 and out.get(term, 0.0) < weight:
            out[term] = weight
    return out


def terms(text: str) -> frozenset[str]:
    """Comparable terms of a text: concepts and stemmed content words."""
    return frozenset(term_weights(text))
