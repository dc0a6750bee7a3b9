"""Duplicate-proposal matching for Spanish dataset-request titles.

Used for three things: suggesting similar proposals while a respondent types,
suggesting duplicate pairs to moderators, and grouping proposals across
consultations. Pure standard library so it can run anywhere (web worker,
batch job, test) without a model or a service.

How a title becomes comparable:

1. ``normalize``: case, accents, punctuation and spacing stop mattering,
   because people type "gasolina", "Gasolína" and "GASOLINA," alike.
2. A few multi-word phrases are collapsed into one token ("ciudad de
   mexico" -> "cdmx", "estacion de servicio" -> "gasolinera") so that an
   abbreviation and its spelled-out form count as the same thing.
3. Stop words and *generic dataset words* ("datos", "registro", "base",
   "informacion"...) are dropped: nearly every proposal contains them, so
   they say nothing about *which* dataset is wanted.
4. ``stem`` folds inflection ("municipio"/"municipales",
   "contratos"/"contratacion") with a deliberately crude suffix stripper
   plus prefix truncation; a handful of domain synonyms map to one stem.
5. Words that only say *where* or *when* ("municipio", "estado", "CDMX",
   "mensual", a year) are kept but weigh little: "calidad del aire por
   municipio" and "calidad del aire por estado" ask for the same data at a
   different grain, while "calidad del aire" vs "calidad del agua" do not.

Scoring is a weighted Dice coefficient over stems, where a stem's weight is
its IDF in the indexed corpus times its class weight (step 5). Stems that do
not match exactly may still match as typos ("gasolna" ~ "gasolina") at a
discount. See ``THRESHOLD`` for how the cut-off was chosen.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator

__all__ = [
    "THRESHOLD",
    "normalize",
    "tokens",
    "stem",
    "terms",
    "similarity",
    "ProposalIndex",
]

# Chosen on the labelled pairs in tests/test_matching.py, scored inside an
# index holding all of their titles (so with corpus IDF). Most hard negatives
# score below 0.56 and most duplicates above 0.66; the classes overlap in
# between (pairs like "beneficiarios"/"evaluaciones" de "programas sociales",
# where two of three content words agree), and 0.62 is the middle of that
# overlap. Lower favours recall (a moderator dismisses a wrong suggestion
# cheaply); callers wanting looser "related" suggestions while someone types
# can pass a lower threshold to ``search``.
THRESHOLD = 0.62

# ---------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------

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


# Phrases whose parts would otherwise be scored as unrelated words. Applied on
# normalised text, longest first, only at word boundaries.
_PHRASES = {
    "ciudad de mexico": "cdmx",
    "distrito federal": "cdmx",
    "estaciones de servicio": "gasolinera",
    "estacion de servicio": "gasolinera",
    "servidores publicos": "funcionarios",
    "servidor publico": "funcionario",
    "entidades federativas": "estado",
    "entidad federativa": "estado",
    "contaminacion atmosferica": "contaminacion aire",
    "tiempo real": "",
    # Federal agencies are named by acronym as often as in full.
    "instituto mexicano del seguro social": "imss",
    "instituto de seguridad y servicios sociales de los trabajadores del estado": "issste",
    "instituto nacional de estadistica y geografia": "inegi",
    "instituto nacional de migracion": "inm",
    "instituto nacional electoral": "ine",
    "instituto nacional de transparencia": "inai",
    "instituto del fondo nacional de la vivienda para los trabajadores": "infonavit",
    "comision federal de electricidad": "cfe",
    "comision nacional del agua": "conagua",
    "comision nacional de los derechos humanos": "cndh",
    "comision nacional de acuacultura y pesca": "conapesca",
    "comision nacional forestal": "conafor",
    "comision nacional bancaria y de valores": "cnbv",
    "petroleos mexicanos": "pemex",
    "procuraduria federal del consumidor": "profeco",
    "procuraduria federal de proteccion al ambiente": "profepa",
    "servicio de administracion tributaria": "sat",
    "secretaria de hacienda y credito publico": "shcp",
    "secretaria de la defensa nacional": "sedena",
    "secretaria de marina": "semar",
    "secretaria de medio ambiente y recursos naturales": "semarnat",
    "fiscalia general de la republica": "fgr",
    "guardia nacional": "gn",
    "banco de mexico": "banxico",
    "sistema nacional para el desarrollo integral de la familia": "dif",
    "desarrollo integral de la familia": "dif",
}
_PHRASE_RE = re.compile(
    r"\b(" + "|".join(re.escape(p) for p in sorted(_PHRASES, key=len, reverse=True)) + r")\b"
)


def tokens(text: str) -> list[str]:
    """Normalised words, with known multi-word phrases collapsed."""
    norm = normalize(text)
    norm = _PHRASE_RE.sub(lambda m: _PHRASES[m.group(1)], norm)
    return norm.split()


# ---------------------------------------------------------------------------
# Vocabulary classes
# ---------------------------------------------------------------------------

# Function words. Kept as normalised (accent-free) forms.
_SPANISH_STOP = frozenset(
    """
    a al algo algun alguna algunas alguno algunos ante antes aqui asi aun bajo
    cada como con contra cual cuales cuando cuanto de del desde donde durante
    e el ella ellas ellos en entre era es esa esas ese eso esos esta estan
    estas este esto estos fue fueron ha han hasta hay hacia la las le les lo
    los mas me mediante mi mis mucho muy ni no nos o otra otras otro otros
    para pero poco por porque que quien quienes se segun ser si sin sobre
    son su sus tal tambien tan tanto te tiene tienen toda todas todo todos
    tras tu u un una unas uno unos usted y ya cuyo cuya cuyos cuyas dicho
    dicha mismo misma sea sean
    """.split()
)

# Words present in almost any proposal on an open-data platform: they name the
# *form* of the request, not the dataset. Matching on them is what produces
# "base de datos de escuelas" ~ "base de datos de hospitales".
_GENERIC = frozenset(
    """
    dato datos informacion info base bases registro registros listado
    listados lista listas conjunto conjuntos publicar publicacion publicaciones
    publico publica publicos publicas abierto abiertos abierta abiertas
    catalogo catalogos padron padrones numero numeros cantidad cantidades
    total totales relacion gobierno gobiernos secretaria secretarias
    dependencia dependencias mexico mexicano mexicana mexicanos mexicanas
    solicito solicitamos quiero queremos necesitamos conocer saber disponible
    disponibles consulta detalle detallado detallada desglose desglosado
    desglosada informe informes reporte reportes estadistica estadisticas
    archivo archivos formato excel csv pdf acceso portal oficiales
    """.split()
)

# Where/when qualifiers: kept (they separate "por estado" from nothing at all)
# but weighted down so that two requests do not look alike merely because both
# want data per municipality, per year or for Mexico City.
_QUALIFIER_WORDS = frozenset(
    """
    estado estados estatal estatales entidad entidades federativa federativas
    municipio municipios municipal municipales alcaldia alcaldias
    delegacion delegaciones localidad localidades colonia colonias region
    regiones regional nacional nacionales federal federales pais paises
    ciudad ciudades cdmx zona zonas urbana urbanas rural rurales
    ano anos anual anuales mensual mensuales diario diaria diarios semanal
    trimestral historico historicos historica historicas actual actuales
    actualizado actualizados reciente recientes periodo periodos fecha fechas
    aguascalientes campeche chiapas chihuahua coahuila colima durango
    guanajuato guerrero hidalgo jalisco michoacan morelos nayarit oaxaca
    puebla queretaro sinaloa sonora tabasco tamaulipas tlaxcala veracruz
    yucatan zacatecas edomex monterrey guadalajara tijuana merida cancun
    acapulco toluca culiacan hermosillo saltillo mexicali morelia torreon
    """.split()
)
# Participles that state the status of records ("licencias otorgadas",
# "delitos denunciados") rather than what the records are. A closed list, not
# a suffix rule, because other participles are the whole point of a request
# ("personas desaparecidas", "vehiculos robados").
_STATUS_WORDS = frozenset(
    """
    otorgado otorgados otorgada otorgadas registrado registrados registrada
    registradas denunciado denunciados denunciada denunciadas presentado
    presentados presentada presentadas aplicado aplicados aplicada aplicadas
    emitido emitidos emitida emitidas autorizado autorizados autorizada
    autorizadas reportado reportados reportada reportadas recibido recibidos
    recibida recibidas realizado realizados realizada realizadas vigente
    vigentes existente existentes
    """.split()
)
QUALIFIER_WEIGHT = 0.3
# Numbers are mostly years ("presupuesto 2023") or parts of names
# ("covid 19"): informative, but a different year is not a different dataset.
NUMBER_WEIGHT = 0.3

# Domain synonyms, mapped word -> canonical word before stemming. Only pairs
# that Mexican government data routinely uses interchangeably belong here.
_SYNONYMS = {
    "delictiva": "delito",
    "delictivas": "delito",
    "delictivo": "delito",
    "delictivos": "delito",
    "delincuencia": "delito",
    "criminal": "delito",
    "criminalidad": "delito",
    "crimenes": "delito",
    "crimen": "delito",
    "trafico": "transito",
    "vial": "transito",
    "viales": "transito",
    "vialidad": "transito",
    "vialidades": "transito",
    "sueldo": "salario",
    "sueldos": "salario",
    "remuneracion": "salario",
    "remuneraciones": "salario",
    "servidores": "funcionarios",
    "servidor": "funcionario",
    "escolar": "escuela",
    "escolares": "escuela",
    "electrica": "electricidad",
    "electricas": "electricidad",
    "electrico": "electricidad",
    "electricos": "electricidad",
    "petroleros": "petroleo",
    "petrolero": "petroleo",
    "petrolera": "petroleo",
    "petroleras": "petroleo",
    "infraccion": "multa",
    "infracciones": "multa",
    "gasolineras": "gasolinera",
    "auto": "vehiculo",
    "autos": "vehiculo",
    "automovil": "vehiculo",
    "automoviles": "vehiculo",
    "coche": "vehiculo",
    "coches": "vehiculo",
    "carro": "vehiculo",
    "carros": "vehiculo",
    "atmosferica": "aire",
    "atmosfericas": "aire",
    "atmosferico": "aire",
    # "por entidad" is how INEGI says "por estado"; "estatal" is its adjective
    # (the stemmer joins "municipal"/"municipio" but not "estatal"/"estado").
    "entidad": "estado",
    "entidades": "estado",
    "estatal": "estado",
    "estatales": "estado",
}

# ---------------------------------------------------------------------------
# Stemming
# ---------------------------------------------------------------------------

_VOWELS = frozenset("aeiou")
_PLURAL_ES_AFTER = frozenset("lnrdzjsy")
# Derivational endings whose removal joins noun/adjective/verbal-noun families
# ("contratacion"/"contrato", "municipal"/"municipio", "hospitalario"/
# "hospital", "migrante"/"migracion"), with the shortest stem each may leave.
# Some need a longer stem: "recaudado"/"recaudacion" should merge but
# "partido"/"parto" not, "violencia"/"violacion" must stay apart. "-ancia" is
# left alone on purpose ("ambulancia" is not "ambulante").
_SUFFIXES = (
    ("amiento", 4), ("imiento", 4), ("aciones", 4), ("iciones", 4),
    ("mente", 4), ("acion", 4), ("icion", 4), ("cion", 4), ("ativo", 4),
    ("ativa", 4), ("ante", 4), ("encia", 5), ("ente", 5),
    ("ario", 4), ("aria", 4), ("ales", 4), ("al", 4), ("ico", 4), ("ica", 4),
    ("ado", 5), ("ada", 5), ("ido", 5), ("ida", 5),
)
# Prefix length after stripping: long enough to keep "transporte" and
# "transparencia" apart, short enough to join "contrat(o)"/"contrat(acion)".
STEM_LENGTH = 7
_MIN_STEM = 4


def stem(word: str) -> str:
    """Light, conservative Spanish stemmer for one normalised word.

    Conservative because a false merge ("seguro"/"seguridad") creates wrong
    duplicate suggestions, while a missed merge only costs some recall that
    the other words of the title usually recover.
    """
    if word.isdigit():
        return word.lstrip("0") or "0"
    word = _SYNONYMS.get(word, word)
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


def _term_weights(text: str) -> dict[str, float]:
    """Stem -> class weight (before IDF). Generic and stop words are dropped."""
    out: dict[str, float] = {}
    for tok in tokens(text):
        if tok in _SPANISH_STOP or tok in _GENERIC:
            continue
        if tok.isdigit():
            weight = NUMBER_WEIGHT
        elif tok in _QUALIFIER_WORDS or tok in _STATUS_WORDS:
            weight = QUALIFIER_WEIGHT
        elif len(tok) == 1:
            continue  # stray letters from "a)", "s/n" or "C5" carry nothing
        else:
            weight = 1.0
        st = stem(tok)
        # If a stem appears both as a qualifier and as content ("estados" vs a
        # word stemming alike), the content reading wins.
        if out.get(st, 0.0) < weight:
            out[st] = weight
    return out


def terms(text: str) -> frozenset[str]:
    """Comparable terms of a text: stemmed content words, numbers kept."""
    return frozenset(_term_weights(text))


# ---------------------------------------------------------------------------
# Typo tolerance
# ---------------------------------------------------------------------------

# A typo match counts for this fraction of the word's weight: enough to carry
# "gasolna" ~ "gasolina", not enough to let two different words that happen
# to be one letter apart decide a match on their own.
TYPO_CREDIT = 0.8
_TYPO_MIN_LEN = 5


def _typo_close(a: str, b: str) -> bool:
    """True if two stems are one edit (incl. a transposition) apart.

    Restricted to stems of 5+ letters sharing the first two letters: short
    stems one edit apart are usually different words ("agua"/"aguja"), and
    people rarely mistype the start of a word ("rentas"/"ventas").
    """
    if a == b or min(len(a), len(b)) < _TYPO_MIN_LEN or a[:2] != b[:2]:
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


def _deletions(term: str) -> Iterator[str]:
    """The term itself and every single-character deletion of it.

    Two strings within one edit of each other always share one of these
    keys, which lets the index find typo candidates by lookup rather than by
    comparing against the whole vocabulary (the SymSpell trick).
    """
    yield term
    for i in range(len(term)):
        yield term[:i] + term[i + 1 :]


# ---------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------


def _shared_weight(wa: dict[str, float], wb: dict[str, float]) -> float:
    """Weight two weighted term sets have in common, exact plus typo matches.

    Typo pairs are matched one-to-one, greedily and in a fixed order that does
    not depend on argument order, so the result is symmetric. Summed with
    ``fsum``, like the totals in ``_dice``, so identical texts score exactly 1.
    """
    parts = [min(wa[t], wb[t]) for t in sorted(wa.keys() & wb.keys())]
    only_a = [t for t in wa if t not in wb and len(t) >= _TYPO_MIN_LEN]
    only_b = [t for t in wb if t not in wa and len(t) >= _TYPO_MIN_LEN]
    if only_a and only_b:
        candidates = sorted(
            (min(x, y), max(x, y), x, y)
            for x in only_a
            for y in only_b
            if _typo_close(x, y)
        )
        used: set[str] = set()
        for _, _, x, y in candidates:
            if x in used or y in used:
                continue
            used.add(x)
            used.add(y)
            parts.append(TYPO_CREDIT * min(wa[x], wb[y]))
    return math.fsum(parts)


def _dice(wa: dict[str, float], wb: dict[str, float]) -> float:
    total = math.fsum(wa[t] for t in sorted(wa)) + math.fsum(wb[t] for t in sorted(wb))
    if total <= 0.0:
        return 0.0
    return min(1.0, 2.0 * _shared_weight(wa, wb) / total)


def similarity(a: str, b: str) -> float:
    """Corpus-free similarity of two texts in [0, 1]; symmetric.

    Without a corpus there is no IDF, so every content word weighs the same.
    Prefer ``ProposalIndex.similarity``/``search`` where a corpus exists: IDF
    is what makes a word shared by half of a consultation's proposals count
    less than a rare one.
    """
    return _dice(_term_weights(a), _term_weights(b))


# ---------------------------------------------------------------------------
# Index
# ---------------------------------------------------------------------------

Id = Hashable


def _sort_key(item: tuple) -> tuple:
    # Score descending, then id ascending; ids of mixed types fall back to
    # their string form so sorting never raises.
    score, ident = item[-1], item[0]
    return (-score, _orderable(ident))


def _orderable(ident: Id) -> tuple:
    return (0, ident) if isinstance(ident, (int, float)) else (1, str(ident))


class ProposalIndex:
    """Inverted index of proposals for similar-proposal search and pairing.

    Weights are IDF over the indexed documents, recomputed lazily after
    changes, so what counts as a common word adapts to each consultation.
    """

    def __init__(self, items: Iterable[tuple[Id, str]] = ()) -> None:
        self._docs: dict[Id, dict[str, float]] = {}  # id -> class weights
        self._postings: dict[str, set[Id]] = defaultdict(set)
        # deletion key -> stems, for typo lookups (see _deletions)
        self._typo_keys: dict[str, set[str]] = defaultdict(set)
        self._idf_cache: dict[str, float] = {}
        self._norm_cache: dict[Id, float] = {}
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
        weights = _term_weights(text)
        self._docs[ident] = weights
        for t in weights:
            if t not in self._postings and len(t) >= _TYPO_MIN_LEN and not t.isdigit():
                for key in _deletions(t):
                    self._typo_keys[key].add(t)
            self._postings[t].add(ident)
        self._invalidate()

    def remove(self, ident: Id) -> None:
        """Remove a proposal; unknown ids are ignored (removal is idempotent)."""
        weights = self._docs.pop(ident, None)
        if weights is None:
            return
        for t in weights:
            posting = self._postings.get(t)
            if posting is None:
                continue
            posting.discard(ident)
            if not posting:
                del self._postings[t]
                if len(t) >= _TYPO_MIN_LEN:
                    for key in _deletions(t):
                        bucket = self._typo_keys.get(key)
                        if bucket is not None:
                            bucket.discard(t)
                            if not bucket:
                                del self._typo_keys[key]
        self._invalidate()

    def _invalidate(self) -> None:
        # Any change alters N and some document frequencies, hence every IDF.
        self._idf_cache = {}
        self._norm_cache = {}

    # -- weighting ---------------------------------------------------------

    def _idf(self, term: str) -> float:
        cached = self._idf_cache.get(term)
        if cached is None:
            df = len(self._postings.get(term, ()))
            n = len(self._docs)
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
            w = self._doc_weights(ident)
            norm = math.fsum(w[t] for t in sorted(w))
            self._norm_cache[ident] = norm
        return norm

    def similarity(self, a: str, b: str) -> float:
        """Similarity of two texts using this index's IDF; symmetric, [0, 1]."""
        return _dice(self._weighted(_term_weights(a)), self._weighted(_term_weights(b)))

    def score(self, id_a: Id, id_b: Id) -> float:
        """Similarity of two indexed proposals."""
        return _dice(self._doc_weights(id_a), self._doc_weights(id_b))

    # -- querying ----------------------------------------------------------

    def _typo_neighbours(self, term: str) -> set[str]:
        if len(term) < _TYPO_MIN_LEN or term.isdigit():
            return set()
        found: set[str] = set()
        for key in _deletions(term):
            for cand in self._typo_keys.get(key, ()):
                if cand != term and _typo_close(term, cand):
                    found.add(cand)
        return found

    def _candidates(
        self, weights: dict[str, float], probe: Iterable[str]
    ) -> dict[Id, float]:
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
        norm = math.fsum(weights[t] for t in sorted(weights))
        hits = []
        for ident, bound in acc.items():
            if ident == skip:
                continue
            denom = norm + self._doc_norm(ident)
            # The bound and the exact score sum the same floats in different
            # orders; the slack keeps rounding from dropping a pair that sits
            # exactly on the threshold.
            if denom <= 0.0 or 2.0 * bound / denom < threshold - 1e-9:
                continue
            s = _dice(weights, self._doc_weights(ident))
            if s >= threshold:
                hits.append((ident, s))
        return hits

    def search(
        self, query: str, limit: int = 5, threshold: float = THRESHOLD
    ) -> list[tuple[Id, float]]:
        """Indexed proposals similar to ``query``, best first (ties by id).

        Meant for live suggestions while typing: a query with no content
        words yet ("datos de la") returns nothing rather than noise.
        """
        if limit <= 0:
            return []
        weights = self._weighted(_term_weights(query))
        if not weights:
            return []
        acc = self._candidates(weights, weights)
        hits = self._score_candidates(weights, acc, threshold)
        hits.sort(key=_sort_key)
        return hits[:limit]

    def similar_to(
        self, ident: Id, limit: int = 5, threshold: float = THRESHOLD
    ) -> list[tuple[Id, float]]:
        """Like ``search`` for an already indexed proposal, excluding itself."""
        weights = self._doc_weights(ident)
        acc = self._candidates(weights, weights)
        hits = self._score_candidates(weights, acc, threshold, skip=ident)
        hits.sort(key=_sort_key)
        return hits[:limit]

    def pairs(self, threshold: float = THRESHOLD) -> list[tuple[Id, Id, float]]:
        """All pairs of indexed proposals scoring at least ``threshold``.

        Each pair appears once as (smaller id, larger id, score); the list is
        sorted by score descending, then ids. Pairs sharing no term (exactly
        or as a typo) are never reported, whatever the threshold.

        Uses prefix filtering: for a Dice score >= t, two documents must
        share weight S >= t * W_a / (2 - t) (from 2S >= t(W_a + W_b) and
        W_b >= S). So only the heaviest terms of each document, up to where
        the remaining lighter terms weigh less than that, need to generate
        candidates; the frequent low-weight terms ("municipio") that would
        make this quadratic never do.
        """
        order = {ident: i for i, ident in enumerate(self._docs)}
        out: list[tuple[Id, Id, float]] = []
        t = max(threshold, 1e-9)
        for ident in self._docs:
            weights = self._doc_weights(ident)
            if not weights:
                continue
            total = self._doc_norm(ident)
            needed = t * total / (2.0 - t)
            # Heaviest first; ties by term for determinism.
            ranked = sorted(weights, key=lambda x: (-weights[x], x))
            prefix = []
            remaining = total
            for term in ranked:
                if remaining < needed:
                    break
                prefix.append(term)
                remaining -= weights[term]
            acc = self._candidates(weights, prefix)
            mine = order[ident]
            later = {c: b for c, b in acc.items() if order[c] > mine}
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
