"""What a full-text index needs from the matcher: each proposal's document, and queries for candidates.

Searching used to load and analyse every proposal of a consultation per request. Now each proposal is
analysed once into a `Document` the database indexes (`idmx.consultations.queries`: FTS5 on SQLite, a
GIN index on PostgreSQL), a search asks the index for the few proposals that can score (`Clause` lists),
and only those are scored here, by the same `ProposalIndex` as before.

The tokens are the matcher's own terms (thesaurus concepts and spelling-folded stems) and normalised
words, never raw text, so the database's tokenizer finds exactly what the matcher would have compared,
and SQLite and PostgreSQL find the same candidates. A hint is found in four steps: the words an
unfinished last word may complete to (`completion_clauses`); the terms of every reading of the query
(`readings`) with their document frequencies, counted by the database; the proposals sharing one of
the terms a hint must share (`probe_terms`, prefix filtering: common qualifiers such as "municipio"
cannot make a hint alone, so they fetch nothing); and the matcher's score over those. The query's IDF
weights are the whole consultation's; only a candidate's other terms are counted over the candidates,
which moves a score by less than 0.02 on tests/consultations/test_search_index.py's corpus.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from idmx.matching.analysis import term_weights
from idmx.matching.index import (
    HINT_COVERAGE_SHARE,
    HINT_THRESHOLD,
    MAX_COMPLETIONS,
    MAX_PHRASE_TAIL,
    MIN_PREFIX,
    Id,
    ProposalIndex,
    _ends_mid_word,
    _is_typo_candidate,
)
from idmx.matching.text import TYPO_MIN_LEN, deletions, fold, normalize
from idmx.matching.thesaurus import default_thesaurus

# Raise when the way documents are built changes: rows of another version are analysed again.
FORMAT = 1
# Terms may hold "_" and "-" (thesaurus ids); full-text tokenizers split on them. Stems and words never
# mix letters and digits (`normalize` splits "covid19"), so a digit inside letters cannot be ambiguous.
_ENCODE = str.maketrans({"_": "0", "-": "1"})


def token(term: str) -> str:
    """The index token of a term or word: only [a-z0-9], one token for both databases' tokenizers."""
    out = term.translate(_ENCODE)
    return out if out.isalnum() and out.isascii() else out.encode().hex()


@cache
def analysis_version() -> str:
    """Names the thesaurus and the document format: a changed thesaurus reads proposals differently."""
    from idmx.paths import seeds_dir

    digest = hashlib.sha256(f"format {FORMAT}".encode())
    seeds = seeds_dir()
    for path in sorted((seeds / "thesaurus").glob("*.json")) + [seeds / "institutions.json"]:
        if path.exists():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Document:
    terms: str  # the title's terms
    words: str  # the title's normalised words (also what the scorer re-reads: normalising is idempotent)
    typo_keys: str  # one-deletion keys of the title's terms that the matcher compares as typos
    body: str  # terms and words of title and description: the browse search needs all of them


def document(title: str, description: str = "") -> Document:
    weights = term_weights(title)
    keys = sorted({k for t in weights if _is_typo_candidate(t) for k in deletions(t)})
    full = f"{title} {description}"
    body = set(term_weights(full)) | set(normalize(full).split())
    return Document(
        terms=" ".join(token(t) for t in sorted(weights)),
        words=normalize(title),
        typo_keys=" ".join(token(k) for k in keys),
        body=" ".join(sorted(token(t) for t in body)),
    )


@dataclass(frozen=True)
class Clause:
    """One condition of a full-text query: `column` holds `token` (or a token starting with it)."""

    column: str  # "terms", "words", "typo_keys" or "body"
    token: str
    prefix: bool = False


def _term_clauses(term: str) -> list[Clause]:
    """Documents the matcher could pair with `term`: the same term, a typo of it (shared deletion key),
    a stem extending it, or a stem it extends (`ProposalIndex._typo_neighbours`)."""
    out = [Clause("terms", token(term))]
    if _is_typo_candidate(term):
        out += [Clause("typo_keys", token(k)) for k in deletions(term)]
        out.append(Clause("terms", token(term), prefix=True))
        out += [Clause("terms", token(term[:n])) for n in range(TYPO_MIN_LEN, len(term))]
    return out


def term_clauses(terms: Iterable[str]) -> list[Clause]:
    return sorted({c for t in terms for c in _term_clauses(t)}, key=lambda c: (c.column, c.token, c.prefix))


def unfinished_word(query: str) -> str | None:
    """The last word of a hint query when it is still being typed and long enough to complete."""
    words = normalize(query).split()
    if not words or not _ends_mid_word(query):
        return None
    last = words[-1]
    return last if len(last) >= MIN_PREFIX or last.isdigit() else None


# The spelling fold rewrites a letter by what follows it ("c" before "e" is "s"), so the fold of a word's
# start may end in another letter than the start of the word's fold: try each reading of the last one.
_FOLD_TAIL = {"c": ("c", "s", "k"), "g": ("g", "j"), "q": ("q", "k"), "l": ("l", "y"), "h": ("",)}
# Stems can be shorter than what was typed ("municipal" -> "municip"), never shorter than this.
_STEM_PREFIX = 4


def completion_clauses(query: str) -> list[Clause]:
    """First step of a hint: documents with a term that a word starting with the unfinished last word
    could stem to; their words hold the completions the matcher may read it as. (Looking for the words
    themselves would fetch every proposal for "por" or "de".)"""
    last = unfinished_word(query)
    if last is None:
        return []
    if last.isdigit():
        return [Clause("words", token(last), prefix=True)]
    head, tail = fold(last[:-1]), last[-1]
    starts = {(head + t)[:_STEM_PREFIX] for t in _FOLD_TAIL.get(tail, (fold(tail),))} | {fold(last)[:_STEM_PREFIX]}
    return [Clause("terms", token(start), prefix=True) for start in sorted(starts) if start]


def readings(query: str, corpus_words: Iterable[str]) -> list[dict[str, float]]:
    """The class weights of every reading `ProposalIndex` may make of a hint query (`_query_variants`,
    and a few more), given the words of the documents found by `completion_clauses`."""
    words = normalize(query).split()
    if not words:
        return []
    found: list[list[str]] = [words]
    last = unfinished_word(query)
    if _ends_mid_word(query):
        base = words[:-1]
        found.append(base)
        if last is not None:
            vocab = sorted(set(default_thesaurus().surface_words) | {w for w in corpus_words if w.startswith(last)})
            found += [base + [w] for w in vocab if w.startswith(last)][:MAX_COMPLETIONS]
        for k in range(2, min(MAX_PHRASE_TAIL, len(words)) + 1):
            for phrase in default_thesaurus().phrases_starting(" ".join(words[-k:])):
                found.append(words[:-k] + phrase.split())
    out: dict[tuple, dict[str, float]] = {}
    for reading in found:
        weights = term_weights(" ".join(reading))
        if weights:
            out.setdefault(tuple(sorted(weights.items())), weights)
    return list(out.values())


def idf(df: int, corpus_size: int) -> float:
    """`ProposalIndex._idf` for a document frequency in a corpus of `corpus_size`."""
    return math.log(1.0 + (corpus_size + 1) / (df + 1))


@cache
def _min_coverage(threshold: float) -> float:
    """The least share of a query's weight a proposal must hold to reach `threshold` as a hint: the hint
    score is 0.75 coverage + 0.25 Dice, and Dice <= 2c / (1 + c) for coverage c."""
    def best(c: float) -> float:
        return HINT_COVERAGE_SHARE * c + (1 - HINT_COVERAGE_SHARE) * min(1.0, 2 * c / (1 + c))

    low, high = 0.0, 1.0
    for _ in range(50):
        mid = (low + high) / 2
        low, high = (mid, high) if best(mid) < threshold else (low, mid)
    return max(0.0, low - 1e-6)


def probe_terms(weights_list: Sequence[dict[str, float]], df: Mapping[str, int], corpus_size: int,
                threshold: float = HINT_THRESHOLD) -> set[str]:
    """Terms a proposal must share (exactly or as a typo) with some reading to reach `threshold`.

    Prefix filtering, as `ProposalIndex.pairs` does: a reading's terms, heaviest first, until what is
    left weighs less than the coverage a hint needs. Common words ("municipio", "estado") that only
    qualify a request then fetch no candidates by themselves: they cannot carry a hint alone.
    """
    needed = _min_coverage(threshold)
    out: set[str] = set()
    for classes in weights_list:
        weights = {t: w * idf(df.get(t, 0), corpus_size) for t, w in classes.items()}
        remaining = math.fsum(weights.values())
        floor = needed * remaining
        for term in sorted(weights, key=lambda t: (-weights[t], t)):
            if remaining < floor - 1e-12:
                break
            out.add(term)
            remaining -= weights[term]
    return out


def search_tokens(query: str) -> list[str]:
    """Tokens every result of a browse search must hold in its `body` (as the browse search always required:
    all the query's terms, or all its words when it has no content words)."""
    wanted = set(term_weights(query)) or set(normalize(query).split())
    return sorted(token(t) for t in wanted)


def score_hints(query: str, candidates: Sequence[tuple[Id, str]], corpus_size: int, df: Mapping[str, int], *,
                limit: int = 5, threshold: float = HINT_THRESHOLD) -> list[tuple[Id, float]]:
    """`ProposalIndex.search(partial=True)` over the candidates (id, `Document.words`), with the
    consultation's size and its document frequencies of the query's terms for IDF."""
    index = ProposalIndex(candidates, corpus_size=corpus_size, document_frequencies=df)
    return index.search(query, limit=limit, threshold=threshold, partial=True)
