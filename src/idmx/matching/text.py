"""Word-level text processing: normalisation, spelling fold, stemming.

Everything here works on single words or plain strings and knows nothing of
the thesaurus, so the thesaurus can be compiled with the same functions that
later read the proposals (a phrase in the data and the same phrase in a title
must produce identical keys).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
# "covid19" and "covid 19" must be the same words, as must "2023a" typos.
_LETTER_DIGIT = re.compile(r"(?<=[a-z])(?=[0-9])|(?<=[0-9])(?=[a-z])")


def normalize(text: str) -> str:
    """Lowercase, strip accents, turn punctuation into spaces, collapse spaces.

    NFKD splits "á" into "a" + a combining accent (and "ñ" into "n" + tilde),
    so dropping combining marks removes accents without a lookup table; it
    also folds compatibility forms such as full-width letters and "º".
    """
    # Casefold before decomposing: lowercasing some capitals ("İ") yields a
    # combining mark, which must be dropped with the accents, not turned into
    # a space by the punctuation rule.
    decomposed = unicodedata.normalize("NFKD", (text or "").casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    spaced = _NON_ALNUM.sub(" ", stripped)
    spaced = _LETTER_DIGIT.sub(" ", spaced)
    return " ".join(spaced.split())


# Mexican Spanish has one sound for c(e/i), s and z, one for b and v, one for
# ll and y, and a silent h; misspellings along those lines ("presio",
# "lisencia", "vaches", "omicidio", "yuvia") are the commonest typos in
# requests and often sit more than one edit away, or at the first letter,
# where edit-distance matching refuses to look.
_FOLD_RULES = (
    (re.compile(r"h"), ""),  # "ch" is protected below
    (re.compile(r"qu(?=[ei])"), "k"),
    (re.compile(r"c(?=[eiy])"), "s"),
    (re.compile(r"c"), "k"),
    (re.compile(r"z"), "s"),
    (re.compile(r"v"), "b"),
    (re.compile(r"ll"), "y"),
    (re.compile(r"g(?=[ei])"), "j"),
)


def fold(word: str) -> str:
    """Spelling-insensitive form of one normalised word (see _FOLD_RULES)."""
    if word.isdigit():
        return word
    w = word.replace("ch", "\x00")
    for pattern, repl in _FOLD_RULES:
        w = pattern.sub(repl, w)
    return w.replace("\x00", "ch")


_VOWELS = frozenset("aeiou")
_PLURAL_ES_AFTER = frozenset("lnrdjsy")
# Derivational endings whose removal joins noun/adjective/verbal-noun families
# ("contratacion"/"contrato", "municipal"/"municipio", "hospitalario"/
# "hospital", "migrante"/"migracion"), with the shortest stem each may leave.
# Written in folded spelling ("-sion" covers "-cion"). Some need a longer stem:
# "recaudado"/"recaudacion" should merge but "partido"/"parto" not,
# "violencia"/"violacion" must stay apart. "-ancia" is left alone on purpose
# ("ambulancia" is not "ambulante").
_SUFFIXES = (
    ("amiento", 4), ("imiento", 4), ("asiones", 4), ("isiones", 4),
    ("mente", 4), ("asion", 4), ("ision", 4), ("sion", 5), ("atibo", 4),
    ("atiba", 4), ("ante", 4), ("ensia", 5), ("ente", 5),
    ("ario", 4), ("aria", 4), ("ales", 4), ("al", 4), ("iko", 4), ("ika", 4),
    ("ado", 5), ("ada", 5), ("ido", 5), ("ida", 5),
)
# Prefix length after stripping: long enough to keep "transporte" and
# "transparencia", "gasolina" and "gasolinera", "contrato" and "contratista"
# apart; endings beyond it are inflection the suffix rules do not know.
STEM_LENGTH = 8
# Final vowels are stripped down to this length only: below it, the vowel is
# what separates words once spelling is folded ("precio"/"preso"/"presa").
_MIN_STEM = 5


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Light, conservative Spanish stemmer for one normalised word.

    Conservative because a false merge ("seguro"/"seguridad") creates wrong
    duplicate suggestions, while a missed merge only costs some recall that
    the other words of the title (or the thesaurus) usually recover. The
    word is spelling-folded first, so "precio" and "presio" share a stem.
    """
    if word.isdigit():
        return word.lstrip("0") or "0"
    word = fold(word)
    if len(word) <= 3:
        # Short words are mostly acronyms (IMSS, SEP, CFE): leave untouched.
        return word
    # Plurals: "-es" after the consonants Spanish singulars end in
    # ("ciudad-es", "municipal-es", "mujer-es"); otherwise just "-s", so that
    # "migrante-s", "accidente-s" keep their "-e" for the suffix step.
    if word.endswith("es") and len(word) > 4 and word[-3] in _PLURAL_ES_AFTER:
        word = word[:-2]
    elif word.endswith("s") and len(word) > 4 and word[-2] in _VOWELS:
        word = word[:-1]
    # Two rounds, so that stacked suffixes unwind: hospital-ari-o -> hospital
    # -> hospit.
    for _ in range(2):
        for suffix, min_stem in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= min_stem:
                word = word[: -len(suffix)]
                break
        else:
            break
    # Final vowels carry gender/number/word class: "municipi(o)", "escuel(a)".
    while len(word) > _MIN_STEM and word[-1] in _VOWELS:
        word = word[:-1]
    return word[:STEM_LENGTH]


# Stems shorter than this are too often different words one letter apart.
TYPO_MIN_LEN = 5


def typo_close(a: str, b: str) -> bool:
    """True if two stems are one edit (incl. a transposition) apart.

    Restricted to stems of 5+ letters sharing the first two letters: short
    stems one edit apart are usually different words ("agua"/"aguja"), and
    people rarely mistype the start of a word ("rentas"/"ventas"); the
    spelling fold already covers the misspellings that do touch it ("h").
    """
    if a == b or min(len(a), len(b)) < TYPO_MIN_LEN or a[:2] != b[:2]:
        return False
    if a.isdigit() or b.isdigit():
        return False
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    if la > lb:
        a, b = b, a
    # b is one longer: a must equal b with one character removed.
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :]


def deletions(term: str) -> list[str]:
    """The term itself and every single-character deletion of it.

    Two strings within one edit of each other always share one of these
    keys, which finds typo candidates by lookup rather than by comparing
    against a whole vocabulary (the SymSpell trick).
    """
    return [term] + [term[:i] + term[i + 1 :] for i in range(len(term))]
