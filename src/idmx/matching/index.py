"""Scoring and the proposal index (search, hints, all pairs)."""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping

from idmx.matching.analysis import term_weights
from idmx.matching.text import TYPO_MIN_LEN, deletions, normalize, typo_close
from idmx.matching.thesaurus import default_thesaurus

# Chosen on the tuned part of tests/matching/eval_set.json (pairs among all
# of its requests, corpus IDF); see that file's tests for the figures.
THRESHOLD = 0.6
# Hints while typing score how much of the (short, unfinished) query a
# proposal covers; a proposal covering most of it is worth showing.
HINT_THRESHOLD = 0.6

# The score blends Dice (both sides' terms must be accounted for) with the
# overlap coefficient (the shorter request's terms must all be found in the
# longer one): requests are often a short title against a long one that adds
# detail ("alumnos por escuela" / "matrícula, docentes y grupos por
# escuela"), which Dice alone punishes as if the detail were disagreement.
DICE_SHARE = 0.75
# Hints: mostly coverage of the query, some Dice to rank tight matches first.
HINT_COVERAGE_SHARE = 0.75

# A typo match counts for this fraction of the word's weight: enough to carry
# "gasolna" ~ "gasolina", not enough to let two different words that happen
# to be one letter apart decide a match on their own.
TYPO_CREDIT = 0.8

# Partial words shorter than this complete to too many words to mean much.
MIN_PREFIX = 3
MAX_COMPLETIONS = 200
# Phrases are completed from at most this many trailing words.
MAX_PHRASE_TAIL = 4

Id = Hashable


def _blend(shared: float, wa: float, wb: float) -> float:
    if shared <= 0.0 or wa <= 0.0 or wb <= 0.0:
        return 0.0
    dice = 2.0 * shared / (wa + wb)
    overlap = shared / min(wa, wb)
    return min(1.0, DICE_SHARE * dice + (1.0 - DICE_SHARE) * overlap)


def _total(w: dict[str, float]) -> float:
    return math.fsum(w[t] for t in sorted(w))


def _is_typo_candidate(term: str) -> bool:
    return len(term) >= TYPO_MIN_LEN and not term.isdigit() and not default_thesaurus().knows(term)


def _near(a: str, b: str) -> bool:
    """Unknown words that are probably the same word: one typo apart, or one
    stem extending the other ("fronter"/"fronteri": the stemmer does not
    know every derivation, and these are words the thesaurus does not know
    either)."""
    if typo_close(a, b):
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= TYPO_MIN_LEN and long_.startswith(short) and short != long_


def _shared_weight(wa: dict[str, float], wb: dict[str, float]) -> float:
    """Weight two weighted term sets have in common, exact plus typo matches.

    Typo pairs are matched one-to-one, greedily and in a fixed order that does
    not depend on argument order, so the result is symmetric. Summed with
    ``fsum`` like the totals, so identical texts score exactly 1.
    """
    parts = [min(wa[t], wb[t]) for t in sorted(wa.keys() & wb.keys())]
    only_a = [t for t in wa if t not in wb and _is_typo_candidate(t)]
    only_b = [t for t in wb if t not in wa and _is_typo_candidate(t)]
    if only_a and only_b:
        candidates = sorted(
            (min(x, y), max(x, y), x, y) for x in only_a for y in only_b if _near(x, y)
        )
        used: set[str] = set()
        for _, _, x, y in candidates:
            if x in used or y in used:
                continue
            used.add(x)
            used.add(y)
            parts.append(TYPO_CREDIT * min(wa[x], wb[y]))
    return math.fsum(parts)


def _score(wa: dict[str, float], wb: dict[str, float]) -> float:
    if not wa or not wb:
        return 0.0
    return _blend(_shared_weight(wa, wb), _total(wa), _total(wb))


def similarity(a: str, b: str) -> float:
    """Corpus-free similarity of two texts in [0, 1]; symmetric.

    Without a corpus there is no IDF, so every content word weighs the same.
    Prefer ``ProposalIndex.similarity``/``search`` where a corpus exists: IDF
    is what makes a word shared by half of a consultation's proposals count
    less than a rare one.
    """
    return _score(term_weights(a), term_weights(b))


def _discard(multimap: dict[str, set[str]], key: str, value: str) -> None:
    bucket = multimap.get(key)
    if bucket is not None:
        bucket.discard(value)
        if not bucket:
            del multimap[key]


def _orderable(ident: Id) -> tuple:
    # Ids of mixed types fall back to their string form so sorting never raises.
    return (0, ident) if isinstance(ident, (int, float)) else (1, str(ident))


def _hit_key(hit: tuple) -> tuple:
    return (-hit[-1], _orderable(hit[0]))


def _ends_mid_word(text: str) -> bool:
    """True when the user is presumably still typing the last word."""
    stripped = (text or "").rstrip()
    return bool(stripped) and stripped == text and stripped[-1].isalnum()


class ProposalIndex:
    """Inverted index of proposals for similar-proposal search and pairing.

    Weights are IDF over the indexed documents, recomputed lazily after
    changes, so what counts as a common word adapts to each consultation.
    """

    def __init__(self, items: Iterable[tuple[Id, str]] = (), *, corpus_size: int | None = None,
                 document_frequencies: Mapping[str, int] | None = None) -> None:
        # When only candidates from a larger corpus are indexed (`idmx.matching.retrieval`): the corpus's
        # size and the document frequencies it knows (the query's terms); other terms count candidates.
        self._corpus_size = corpus_size
        self._known_df = dict(document_frequencies or {})
        self._docs: dict[Id, dict[str, float]] = {}  # id -> class weights
        self._words: dict[Id, tuple[str, ...]] = {}  # id -> normalised words
        self._postings: dict[str, set[Id]] = defaultdict(set)
        # deletion key -> terms, for typo lookups (see text.deletions), and
        # prefix -> terms extending it, for stems extending one another
        self._typo_keys: dict[str, set[str]] = defaultdict(set)
        self._prefixes: dict[str, set[str]] = defaultdict(set)
        self._idf_cache: dict[str, float] = {}
        self._norm_cache: dict[Id, float] = {}
        self._vocabulary: list[str] | None = None
        for ident, text in items:
            self.add(ident, text)

    # -- maintenance -------------------------------------------------------

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, ident: object) -> bool:
        return ident in self._docs

    def add(self, ident: Id, text: str) -> None:
        """Add a proposal, replacing any previous text under the same id."""
        if ident in self._docs:
            self.remove(ident)
        weights = term_weights(text)
        self._docs[ident] = weights
        self._words[ident] = tuple(normalize(text).split())
        for t in weights:
            if t not in self._postings and _is_typo_candidate(t):
                for key in deletions(t):
                    self._typo_keys[key].add(t)
                for n in range(TYPO_MIN_LEN, len(t)):
                    self._prefixes[t[:n]].add(t)
            self._postings[t].add(ident)
        self._invalidate()

    def remove(self, ident: Id) -> None:
        """Remove a proposal; unknown ids are ignored (removal is idempotent)."""
        weights = self._docs.pop(ident, None)
        if weights is None:
            return
        del self._words[ident]
        for t in weights:
            posting = self._postings.get(t)
            if posting is None:
                continue
            posting.discard(ident)
            if not posting:
                del self._postings[t]
                if _is_typo_candidate(t):
                    for key in deletions(t):
                        _discard(self._typo_keys, key, t)
                    for n in range(TYPO_MIN_LEN, len(t)):
                        _discard(self._prefixes, t[:n], t)
        self._invalidate()

    def _invalidate(self) -> None:
        # Any change alters N and some document frequencies, hence every IDF.
        self._idf_cache = {}
        self._norm_cache = {}
        self._vocabulary = None

    # -- weighting ---------------------------------------------------------

    def _idf(self, term: str) -> float:
        cached = self._idf_cache.get(term)
        if cached is None:
            df = self._known_df.get(term, len(self._postings.get(term, ())))
            n = max(len(self._docs), self._corpus_size or 0)
            # Smoothed so that a term absent from the corpus (a new word in a
            # typed query) gets the highest weight rather than infinity, and a
            # term in every document still weighs a little.
            cached = math.log(1.0 + (n + 1) / (df + 1))
            self._idf_cache[term] = cached
        return cached

    def _weighted(self, class_weights: dict[str, float]) -> dict[str, float]:
        return {t: w * self._idf(t) for t, w in class_weights.items()}

    def _doc_weights(self, ident: Id) -> dict[str, float]:
        return self._weighted(self._docs[ident])

    def _doc_norm(self, ident: Id) -> float:
        norm = self._norm_cache.get(ident)
        if norm is None:
            norm = _total(self._doc_weights(ident))
            self._norm_cache[ident] = norm
        return norm

    def similarity(self, a: str, b: str) -> float:
        """Similarity of two texts using this index's IDF; symmetric, [0, 1]."""
        return _score(self._weighted(term_weights(a)), self._weighted(term_weights(b)))

    def score(self, id_a: Id, id_b: Id) -> float:
        """Similarity of two indexed proposals."""
        return _score(self._doc_weights(id_a), self._doc_weights(id_b))

    # -- querying ----------------------------------------------------------

    def _typo_neighbours(self, term: str) -> set[str]:
        """Indexed terms ``_near`` to ``term``, other than itself."""
        if not _is_typo_candidate(term):
            return set()
        found: set[str] = set()
        for key in deletions(term):
            for cand in self._typo_keys.get(key, ()):
                if cand != term and typo_close(term, cand):
                    found.add(cand)
        found.update(self._prefixes.get(term, ()))
        for n in range(TYPO_MIN_LEN, len(term)):
            if term[:n] in self._postings and _is_typo_candidate(term[:n]):
                found.add(term[:n])
        found.discard(term)
        return found

    def _candidates(self, weights: dict[str, float], probe: Iterable[str]) -> dict[Id, float]:
        """Upper bound of shared weight for every doc sharing a probe term.

        Accumulating per posting is one dict update per (term, doc), far
        cheaper than scoring each doc; the bound is never below the exact
        shared weight, so filtering on it cannot lose a match.
        """
        acc: dict[Id, float] = defaultdict(float)
        for t in probe:
            w = weights[t]
            for ident in self._postings.get(t, ()):
                acc[ident] += w
            for near in self._typo_neighbours(t):
                for ident in self._postings.get(near, ()):
                    acc[ident] += TYPO_CREDIT * w
        return acc

    def _score_candidates(
        self,
        weights: dict[str, float],
        acc: dict[Id, float],
        threshold: float,
        skip: Id | None = None,
    ) -> list[tuple[Id, float]]:
        norm = _total(weights)
        hits = []
        for ident, bound in acc.items():
            if ident == skip:
                continue
            # The bound and the exact score sum the same floats in different
            # orders; the slack keeps rounding from dropping a pair that sits
            # exactly on the threshold.
            if _blend(bound, norm, self._doc_norm(ident)) < threshold - 1e-9:
                continue
            s = _score(weights, self._doc_weights(ident))
            if s >= threshold:
                hits.append((ident, s))
        return hits

    def search(
        self,
        query: str,
        limit: int = 5,
        threshold: float | None = None,
        *,
        partial: bool = False,
    ) -> list[tuple[Id, float]]:
        """Indexed proposals similar to ``query``, best first (ties by id).

        ``partial=False`` compares the query as a whole request, with the
        same score as ``pairs`` (default threshold ``THRESHOLD``).

        ``partial=True`` is for hints while someone types: the last word,
        unless followed by a space or punctuation, is taken as the start of
        a word ("gasol" -> "gasolina", "gasolinera"...), and a proposal
        scores by how much of the query it covers (default threshold
        ``HINT_THRESHOLD``), so a few words find the longer titles that
        contain them.

        A query with no content words yet ("datos de la") returns nothing
        rather than noise.
        """
        if limit <= 0:
            return []
        if partial:
            hits = self._hint_hits(query, HINT_THRESHOLD if threshold is None else threshold)
        else:
            weights = self._weighted(term_weights(query))
            if not weights:
                return []
            acc = self._candidates(weights, weights)
            hits = self._score_candidates(weights, acc, THRESHOLD if threshold is None else threshold)
        hits.sort(key=_hit_key)
        return hits[:limit]

    def similar_to(
        self, ident: Id, limit: int = 5, threshold: float = THRESHOLD
    ) -> list[tuple[Id, float]]:
        """Like ``search`` for an already indexed proposal, excluding itself."""
        weights = self._doc_weights(ident)
        acc = self._candidates(weights, weights)
        hits = self._score_candidates(weights, acc, threshold, skip=ident)
        hits.sort(key=_hit_key)
        return hits[:limit]

    # -- hints -------------------------------------------------------------

    def _vocab(self) -> list[str]:
        if self._vocabulary is None:
            words = set(default_thesaurus().surface_words)
            for ws in self._words.values():
                words.update(ws)
            self._vocabulary = sorted(words)
        return self._vocabulary

    def _completions(self, prefix: str) -> list[str]:
        vocab = self._vocab()
        start = bisect.bisect_left(vocab, prefix)
        out = []
        for word in vocab[start : start + MAX_COMPLETIONS]:
            if not word.startswith(prefix):
                break
            out.append(word)
        return out

    def _query_variants(self, query: str) -> list[dict[str, float]]:
        """Weighted readings of a query whose last word may be unfinished.

        An unfinished word is completed to the known words it starts
        ("gasol" -> "gasolina", "gasolinera"), and the last few words to the
        thesaurus phrases they start ("calidad del a" -> "calidad del aire",
        "calidad del agua"); each completion is one reading.
        """
        words = normalize(query).split()
        if not words:
            return []
        if not _ends_mid_word(query):
            readings = [words]
        else:
            base, last = words[:-1], words[-1]
            readings = []
            if len(last) >= MIN_PREFIX or last.isdigit():
                # A word with no completion is read as typed (typos included);
                # one with completions is not, as a prefix of a word is not a
                # misspelling of another ("combus" is not "combis").
                readings += [base + [w] for w in self._completions(last)] or [words]
            for k in range(2, min(MAX_PHRASE_TAIL, len(words)) + 1):
                for phrase in default_thesaurus().phrases_starting(" ".join(words[-k:])):
                    readings.append(words[:-k] + phrase.split())
            if not readings:
                readings = [base]
        seen: set[tuple] = set()
        out = []
        for reading in readings:
            weights = term_weights(" ".join(reading))
            key = tuple(sorted(weights.items()))
            if weights and key not in seen and any(t in self._postings for t in weights):
                seen.add(key)
                out.append(self._weighted(weights))
        return out

    def _hint_hits(self, query: str, threshold: float) -> list[tuple[Id, float]]:
        best: dict[Id, float] = {}
        for weights in self._query_variants(query):
            norm = _total(weights)
            for ident in self._candidates(weights, weights):
                shared = _shared_weight(weights, self._doc_weights(ident))
                doc_norm = self._doc_norm(ident)
                if shared <= 0.0 or doc_norm <= 0.0:
                    continue
                coverage = shared / norm
                dice = 2.0 * shared / (norm + doc_norm)
                s = min(1.0, HINT_COVERAGE_SHARE * coverage + (1.0 - HINT_COVERAGE_SHARE) * dice)
                if s >= threshold and s > best.get(ident, 0.0):
                    best[ident] = s
        return list(best.items())

    # -- all pairs ---------------------------------------------------------

    def pairs(self, threshold: float = THRESHOLD) -> list[tuple[Id, Id, float]]:
        """All pairs of indexed proposals scoring at least ``threshold``.

        Each pair appears once as (smaller id, larger id, score); the list is
        sorted by score descending, then ids. Pairs sharing no term (exactly
        or as a typo) are never reported, whatever the threshold.

        Uses prefix filtering. Every score here is at most S / W_min (shared
        weight over the lighter document's total), so a pair scoring >= t
        shares S >= t * W_min. Each pair is generated from its lighter
        document, from that document's heaviest terms only, up to where its
        remaining lighter terms weigh less than t * W: the frequent
        low-weight terms ("municipio") that would make this quadratic never
        generate candidates.
        """
        order = {ident: i for i, ident in enumerate(self._docs)}
        out: list[tuple[Id, Id, float]] = []
        t = max(threshold, 1e-9)
        for ident in self._docs:
            weights = self._doc_weights(ident)
            if not weights:
                continue
            total = self._doc_norm(ident)
            needed = t * total
            # Heaviest first; ties by term for determinism.
            ranked = sorted(weights, key=lambda x: (-weights[x], x))
            prefix = []
            remaining = total
            for term in ranked:
                if remaining < needed - 1e-12:
                    break
                prefix.append(term)
                remaining -= weights[term]
            acc = self._candidates(weights, prefix)
            mine = (total, order[ident])
            # Only partners at least as heavy: the pair belongs to its lighter
            # side, whose prefix is the one guaranteed to find it.
            later = {c: b for c, b in acc.items() if (self._doc_norm(c), order[c]) > mine}
            # The bound from prefix terms alone is not a bound on the full
            # shared weight, so add what the rest could still contribute.
            slack = max(remaining, 0.0)
            for c in later:
                later[c] += slack
            for other, s in self._score_candidates(weights, later, threshold):
                if _orderable(other) < _orderable(ident):
                    out.append((other, ident, s))
                else:
                    out.append((ident, other, s))
        out.sort(key=lambda p: (-p[2], _orderable(p[0]), _orderable(p[1])))
        return out
