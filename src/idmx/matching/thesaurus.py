"""The curated thesaurus (``seeds/thesaurus/``), compiled for reading titles.

Every entry of the data files becomes a *phrase* (a sequence of word keys,
see ``text.stem``) mapped to what it *emits*: zero or more weighted terms.
Reading a title is then a greedy longest-match over its word keys, so
synonyms, institution names, informal questions and multi-word expressions
are all handled by one mechanism, and inflected or misspelt forms of a
phrase ("estaciones de servicio", "estasion de servicio") match it because
keys are stems of spelling-folded words.

Files (see seeds/thesaurus/README.md for how to edit them):

- ``words.json``: word classes (stop, generic, qualifier, status).
- ``concepts.json``: synonym groups; every term emits the concept id.
- ``agencies.json``: additions to ``seeds/institutions.json`` (aliases,
  extra institutions, acronyms that are ordinary words, implied topics).
- ``rewrites.json``: phrases read as other words ("cuanto cuesta" ->
  "precio"); the replacement is read with the concepts above.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from idmx.matching.text import (
    TYPO_MIN_LEN,
    deletions,
    fold,
    normalize,
    stem,
    typo_close,
)

# Weight of each class of term before IDF. Qualifiers (where/when/grain) and
# status participles are kept, because "delitos por municipio" and "delitos"
# are not quite the same request, but they must not make two requests alike
# on their own. Aspects (location, institution, measure) sit in between.
CLASS_WEIGHTS = {
    "content": 1.0,
    "aspect": 0.5,
    "qualifier": 0.3,
    "status": 0.3,
    "generic": 0.0,
    "stop": 0.0,
}
# Numbers are mostly years ("presupuesto 2023") or parts of names ("covid
# 19"): informative, but a different year is not a different dataset.
NUMBER_WEIGHT = 0.3
# An institution hints at its field ("tarifas de la CFE" are electricity
# tariffs) without saying it, so the implied topic counts for less.
IMPLIED_FACTOR = 0.5

Emission = tuple[tuple[str, float], ...]
Key = str


class ThesaurusError(ValueError):
    """The thesaurus data is malformed or contradicts itself."""


def phrase_keys(phrase: str) -> tuple[Key, ...]:
    """Word keys of a phrase, as used both for the data and for titles."""
    return tuple(stem(w) for w in normalize(phrase).split())


@dataclass
class Thesaurus:
    """Compiled phrase table. Build with ``Thesaurus.load`` or ``default``."""

    # first key -> [(keys, emission)], longest phrase first
    _starts: dict[Key, list[tuple[tuple[Key, ...], Emission]]] = field(default_factory=dict)
    _entries: dict[tuple[Key, ...], tuple[Emission, str]] = field(default_factory=dict)
    # deletion key -> spelling-folded single words of entries, and each such
    # word's key, for correcting typos of known words
    _typo_index: dict[str, set[str]] = field(default_factory=dict)
    _folded: dict[str, Key] = field(default_factory=dict)
    # ids of concepts and institutions: never treated as typos of raw words
    concepts: set[str] = field(default_factory=set)
    # normalised words and multi-word phrases of all entries, for completing
    # what someone is still typing
    surface_words: set[str] = field(default_factory=set)
    surface_phrases: set[str] = field(default_factory=set)
    _errors: list[str] = field(default_factory=list)
    _sorted_phrases: list[str] | None = None

    # -- building ------------------------------------------------------------

    def add(self, phrase: str, emission: Emission, source: str) -> None:
        keys = phrase_keys(phrase)
        if not keys:
            self._errors.append(f"{source}: empty phrase {phrase!r}")
            return
        # Every written form is kept for completion and typo correction,
        # also those whose keys an earlier form already holds ("escuelas").
        words = normalize(phrase).split()
        self.surface_words.update(words)
        if len(words) > 1:
            self.surface_phrases.add(" ".join(words))
        if len(words) == 1 and len(words[0]) >= TYPO_MIN_LEN and not words[0].isdigit():
            folded = fold(words[0])
            self._folded.setdefault(folded, keys[0])
            for d in deletions(folded):
                self._typo_index.setdefault(d, set()).add(folded)
        previous = self._entries.get(keys)
        if previous is not None:
            if previous[0] != emission:
                self._errors.append(
                    f"{source}: {phrase!r} reads as {_show(emission)}, but {previous[1]} "
                    f"already reads the same words as {_show(previous[0])}"
                )
            return
        self._entries[keys] = (emission, f"{source} ({phrase!r})")
        self._starts.setdefault(keys[0], []).append((keys, emission))

    def _finish(self) -> Thesaurus:
        if self._errors:
            shown = "; ".join(self._errors[:5])
            more = f" (and {len(self._errors) - 5} more)" if len(self._errors) > 5 else ""
            raise ThesaurusError(f"thesaurus conflicts: {shown}{more}")
        for options in self._starts.values():
            options.sort(key=lambda o: (-len(o[0]), o[0]))
        return self

    def phrases_starting(self, text: str, limit: int = 20) -> list[str]:
        """Multi-word phrases that ``text`` (normalised) is the start of."""
        if self._sorted_phrases is None:
            self._sorted_phrases = sorted(self.surface_phrases)
        start = bisect.bisect_left(self._sorted_phrases, text)
        out = []
        for phrase in self._sorted_phrases[start : start + limit]:
            if not phrase.startswith(text):
                break
            out.append(phrase)
        return out

    # -- reading -------------------------------------------------------------

    def knows(self, term: str) -> bool:
        """True for terms the thesaurus produces (typos of them are corrected
        while reading, so the index need not look for them)."""
        return term in self.concepts or "_" in term or (term,) in self._entries

    def correct(self, word: str) -> Key | None:
        """Key of the known single word one typo away from ``word``, if any.

        Compared as whole spelling-folded words, not stems: stems are short
        enough for unrelated words to be one letter apart ("remed(iacion)"/
        "remes(as)"), whole words rarely are.
        """
        folded = fold(word)
        if len(folded) < TYPO_MIN_LEN or folded.isdigit():
            return None
        found = {c for d in deletions(folded) for c in self._typo_index.get(d, ()) if typo_close(folded, c)}
        if not found:
            return None
        # Several known words may be one edit away ("desempelo": "desempleo"
        # by a swap, "desempeno" by a substitution). Swapped and dropped
        # letters are the commoner slips of typing; a wrong letter is often
        # a different word.
        def kind(c: str) -> int:
            if sorted(c) == sorted(folded):
                return 0
            return 1 if len(c) != len(folded) else 2

        return self._folded[min(found, key=lambda c: (kind(c), c))]

    def read(self, words: Sequence[str]) -> list[tuple[str, float]]:
        """Weighted terms of normalised words, in order (duplicates kept)."""
        keys = [stem(w) for w in words]
        out: list[tuple[str, float]] = []
        i, n = 0, len(keys)
        while i < n:
            k = keys[i]
            for phrase, emission in self._starts.get(k, ()):
                if tuple(keys[i : i + len(phrase)]) == phrase:
                    out.extend(emission)
                    i += len(phrase)
                    break
            else:
                if k.isdigit():
                    out.append((k, NUMBER_WEIGHT))
                elif k not in self._starts and (fixed := self.correct(words[i])) is not None:
                    out.extend(self._entries[(fixed,)][0])
                elif len(words[i]) > 1:
                    # Stray letters ("a)", "s/n", "69-B") carry nothing.
                    out.append((k, CLASS_WEIGHTS["content"]))
                i += 1
        return out

    # -- loading -------------------------------------------------------------

    def _add_words(self, words: dict) -> None:
        for cls_name in ("stop", "generic", "qualifier", "status", "aspect"):
            weight = CLASS_WEIGHTS[cls_name]
            for term in words.get(cls_name, ()):
                emission: Emission = (("_".join(phrase_keys(term)), weight),) if weight else ()
                self.add(term, emission, f"words.json/{cls_name}")

    def _add_concepts(self, concepts: list[dict], implied_by: Thesaurus | None) -> None:
        for entry in concepts:
            concept = entry["concept"]
            weight_name = entry.get("weight", "content")
            if weight_name not in CLASS_WEIGHTS:
                raise ThesaurusError(f"concepts.json: {concept!r} has unknown weight {weight_name!r}")
            self.concepts.add(concept)
            emission: Emission = ((concept, CLASS_WEIGHTS[weight_name]),)
            if implied_by is not None and entry.get("also"):
                emission += tuple(implied_by.read(normalize(" ".join(entry["also"])).split()))
            for term in entry["terms"]:
                self.add(term, emission, f"concepts.json/{concept}")

    @classmethod
    def load(cls, directory: Path, institutions: Path | None = None) -> Thesaurus:
        words = _json(directory / "words.json")
        concepts = _json(directory / "concepts.json")
        # "also" names concepts a concept implies ("rios" are water); they
        # are read with a first table of the plain concepts.
        plain = cls()
        plain._add_words(words)
        plain._add_concepts(concepts, None)
        plain._finish()
        th = cls()
        th._add_words(words)
        th._add_concepts(concepts, plain)

        agencies = _json(directory / "agencies.json")
        names: dict[str, list[str]] = {}
        if institutions is not None:
            for row in _json(institutions):
                if row.get("level") == "federal":
                    names.setdefault(row["acronym"], []).append(row["name_es"])
        for acronym, extra in agencies.get("extra", {}).items():
            names.setdefault(acronym, []).extend(extra)
        for acronym, aliases in agencies.get("aliases", {}).items():
            names.setdefault(acronym, []).extend(aliases)
        skip = set(agencies.get("skip_acronyms", ()))
        implies = agencies.get("implies", {})
        th._finish()  # implied topics are read with the concepts above
        for acronym in sorted(names):
            ident = acronym.lower()
            th.concepts.add(ident)
            emission = ((ident, CLASS_WEIGHTS["aspect"]),)
            if acronym in implies:
                implied = th.read(normalize(implies[acronym]).split())
                emission += tuple((t, w * IMPLIED_FACTOR) for t, w in implied)
            phrases = list(names[acronym])
            if acronym not in skip and "-" not in acronym:
                phrases.append(acronym)
            for phrase in phrases:
                th.add(phrase, emission, f"agencies/{acronym}")

        th._finish()  # rewrites are read with everything above
        for entry in _json(directory / "rewrites.json"):
            emission = tuple(th.read(normalize(entry["read_as"]).split()))
            for phrase in entry["phrases"]:
                th.add(phrase, emission, f"rewrites.json/{entry['read_as'] or '(nothing)'}")
        return th._finish()


def _show(emission: Emission) -> str:
    return "[" + ", ".join(f"{t}:{w:g}" for t, w in emission) + "]" if emission else "nothing"


def _json(path: Path):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError) as exc:
        raise ThesaurusError(f"cannot read thesaurus file {path}: {exc}") from exc


@lru_cache(maxsize=1)
def default_thesaurus() -> Thesaurus:
    """The thesaurus shipped in ``seeds/thesaurus`` (loaded once per process)."""
    from idmx.paths import seeds_dir

    seeds = seeds_dir()
    institutions = seeds / "institutions.json"
    return Thesaurus.load(seeds / "thesaurus", institutions if institutions.exists() else None)
