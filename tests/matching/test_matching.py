"""Labelled title pairs for idmx.matching, and the index's behaviour.

Moved from tests/test_matching.py when the matcher became a package; labels
unchanged. These pairs were written for the previous matcher, so for the
current one both lists are data it was not tuned on (see eval_set.json and
test_quality.py for the set it was tuned on). The accuracy test scores pairs
inside one ProposalIndex holding every labelled title, as the matcher runs
in production (IDF from the consultation's corpus). Run ``pytest -s`` to see
precision and recall printed.

Label discipline: labels say whether two requests ask for the same dataset,
as a moderator would judge. Never edit a label to make a test pass; change the
matcher.
"""

from __future__ import annotations

import itertools
import random
import statistics
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idmx.matching import THRESHOLD, ProposalIndex, normalize, similarity, stem, terms

# (title_a, title_b, is_duplicate). Used to choose THRESHOLD and the matcher's
# word lists. The first block was written before any matcher code existed.
LABELLED_PAIRS = [
    # ---- duplicates: same dataset asked for in different words ----
    ("Calidad del aire por municipio", "datos municipales de calidad de aire", True),
    ("Precios de la gasolina por estación de servicio", "precio gasolina por gasolinera", True),
    ("Precios de gasolina por estacion", "Precio de la gasolna en cada estacion", True),
    ("Incidencia delictiva por municipio", "incidencia delictiva municipal mensual", True),
    ("Delitos denunciados por municipio", "Número de delitos por municipio", True),
    ("Contratos de compras públicas del gobierno federal", "Contrataciones públicas federales", True),
    ("Contratos de obra pública", "Contratación de obras públicas", True),
    ("Directorio de hospitales y centros de salud", "Ubicación de hospitales y centros de salud", True),
    ("Escuelas públicas por estado", "Listado de escuelas publicas en cada entidad", True),
    ("Matrícula escolar por escuela", "matricula de alumnos por escuela", True),
    ("Presupuesto de egresos del municipio", "presupuesto municipal de egresos", True),
    ("Beneficiarios de programas sociales", "Padrón de beneficiarios de los programas sociales", True),
    ("Beneficiarios del programa Sembrando Vida", "Padron de beneficiarios de Sembrando Vida por municipio", True),
    ("Concesiones de agua de CONAGUA", "concesiones de aguas nacionales", True),
    ("Títulos de concesión de agua", "Concesiones de agua otorgadas", True),
    ("Accidentes de tránsito en la CDMX", "Accidentes viales en la Ciudad de México", True),
    ("Accidentes de tráfico por municipio", "Accidentes de tránsito terrestre por municipio", True),
    ("Salarios de funcionarios públicos", "Sueldos de los servidores públicos", True),
    ("Nómina del gobierno estatal", "nomina de servidores publicos estatales", True),
    ("Tiempos de espera en hospitales del IMSS", "tiempo de espera en hospitales imss", True),
    ("Casos de dengue por estado", "Casos de dengue por entidad federativa", True),
    ("Homicidios por municipio", "homicidios dolosos municipales", True),
    ("Personas desaparecidas", "Registro nacional de personas desaparecidas y no localizadas", True),
    ("Consumo de energía eléctrica por municipio", "consumo de electricidad por municipio", True),
    ("Tarifas eléctricas de la CFE", "tarifas de electricidad CFE", True),
    ("Gasto en publicidad oficial", "gastos de publicidad oficial del gobierno", True),
    ("Viajes y viáticos de funcionarios", "Gastos en viáticos de servidores públicos", True),
    ("Multas de tránsito", "infracciones de transito", True),
    ("Niveles de presas", "nivel de almacenamiento de las presas", True),
    ("Rutas de transporte público", "Rutas del transporte publico y paradas", True),
    ("Licencias de construcción", "licencias de construccion otorgadas por municipio", True),
    ("Quejas ante PROFECO por proveedor", "Quejas de consumidores presentadas ante la Profeco", True),
    ("Vacunación COVID-19 por estado", "vacunas aplicadas contra covid19 por entidad", True),
    ("Pozos petroleros de PEMEX", "pozos de petróleo de Pemex", True),
    ("Calidad del agua en playas", "calidad del agua de playas mexicanas", True),
    ("Feminicidios por estado", "Víctimas de feminicidio por entidad federativa", True),
    ("Precios de la canasta básica", "precio canasta basica por ciudad", True),
    ("Créditos de vivienda del INFONAVIT", "creditos infonavit otorgados para vivienda", True),
    # ---- hard negatives: shared words, different dataset ----
    ("Calidad del aire por municipio", "Calidad del agua por municipio", False),
    ("Precios de gasolina", "Precios de la canasta básica", False),
    ("Precios de la gasolina por estación de servicio", "Ubicación de estaciones de servicio (gasolineras)", False),
    ("Incidencia delictiva por municipio", "Accidentes de tránsito por municipio", False),
    ("Base de datos de escuelas", "base de datos de hospitales", False),
    ("Registro nacional de personas desaparecidas", "Registro nacional de vehículos robados", False),
    ("Contratos de obra pública", "Contratos colectivos de trabajo", False),
    ("Presupuesto de egresos del estado", "Ley de ingresos del estado", False),
    ("Beneficiarios de programas sociales", "Evaluaciones de programas sociales", False),
    ("Concesiones de agua", "Concesiones mineras", False),
    ("Calidad del agua en playas", "Calidad del agua potable por municipio", False),
    ("Casos de dengue por estado", "Casos de COVID-19 por estado", False),
    ("Homicidios por municipio", "Suicidios por municipio", False),
    ("Consumo de energía eléctrica por municipio", "Consumo de agua por municipio", False),
    ("Tarifas eléctricas de la CFE", "tarifas de agua potable", False),
    ("Información de escuelas por estado", "información de cárceles por estado", False),
    ("Información nacional de salud", "información nacional de empleo", False),
    ("Matrícula de alumnos por escuela", "Registro de matrículas vehiculares", False),
    ("Tiempos de espera en hospitales del IMSS", "Número de camas en hospitales del IMSS", False),
    ("Accidentes de tránsito en la CDMX", "Multas de tránsito en la CDMX", False),
    ("Rutas de transporte público", "Tarifas de transporte público", False),
    ("Licencias de construcción", "Licencias de conducir", False),
    ("Quejas ante PROFECO", "Quejas ante la CNDH", False),
    ("Vacunación COVID-19 por estado", "Vacunación de niños por estado", False),
    ("Pozos petroleros de PEMEX", "Pozos de agua de CONAGUA", False),
    ("Víctimas de feminicidio por estado", "Víctimas de secuestro por estado", False),
    ("Créditos de vivienda del INFONAVIT", "Créditos a pequeñas empresas", False),
    ("Gasto en publicidad oficial", "Gasto en salud por estado", False),
    ("Salarios de funcionarios públicos", "Declaraciones patrimoniales de funcionarios públicos", False),
    ("Niveles de presas", "Niveles de ruido en la ciudad", False),
    ("Personas desaparecidas", "Personas con discapacidad por municipio", False),
    ("Directorio de hospitales", "Directorio de escuelas", False),
    ("Precios de medicamentos", "Precios de la vivienda", False),
    ("Licitaciones de la Secretaría de Salud", "Licitaciones de la Secretaría de Educación", False),
    ("Padrón de beneficiarios de Sembrando Vida", "Padrón de beneficiarios de Jóvenes Construyendo el Futuro", False),
    ("Calidad del aire en tiempo real en CDMX", "Calidad de los servicios de salud en CDMX", False),
    ("Consumo de electricidad por municipio", "Cortes de electricidad por municipio", False),
    ("Número de médicos por estado", "Número de maestros por estado", False),
    # ---- second batch: first used as a held-out set, evaluated once (it
    # exposed the missing "-cion"/"-ante" suffixes, agency acronyms and city
    # names), then folded in here ----
    ("Niveles de contaminación del aire en Monterrey", "contaminacion atmosferica en monterrey", True),
    ("Deuda pública de los estados", "deuda publica estatal", True),
    ("Recaudación de impuestos por estado", "impuestos recaudados por entidad federativa", True),
    ("Padrón de médicos del sector salud", "médicos registrados en el sector salud", True),
    ("Superficie forestal deforestada por estado", "deforestación por entidad", True),
    ("Resultados de la prueba PLANEA por escuela", "resultados planea por escuela", True),
    ("Incendios forestales por estado", "incendios forestales en cada entidad", True),
    ("Migrantes detenidos por el INM", "detenciones de migrantes por el Instituto Nacional de Migración", True),
    ("Camas de hospital disponibles", "Número de camas hospitalarias", True),
    ("Tomas de agua clandestinas", "tomas clandestinas de agua", True),
    ("Ubicación de cámaras de videovigilancia C5", "camaras de vigilancia del C5 de la CDMX", True),
    ("Permisos de pesca", "permisos de pesca otorgados por CONAPESCA", True),
    ("Programa de becas Benito Juárez beneficiarios", "beneficiarios de becas benito juarez", True),
    ("Tiempo de respuesta de ambulancias", "tiempos de respuesta de los servicios de ambulancia", True),
    ("Robo de vehículos por colonia", "robos de autos por colonia", True),
    ("Deuda pública de los estados", "Deuda de los hogares", False),
    ("Recaudación de impuestos por estado", "Devoluciones de impuestos del SAT", False),
    ("Incendios forestales por estado", "incendios urbanos por alcaldía", False),
    ("Permisos de pesca", "Permisos de construcción", False),
    ("Robo de vehículos por colonia", "Robo a casa habitación por colonia", False),
    ("Camas de hospital disponibles", "Camas en albergues para migrantes", False),
    ("Resultados de la prueba PLANEA por escuela", "Resultados electorales por casilla", False),
    ("Tiempo de respuesta de ambulancias", "Tiempo de respuesta a solicitudes de transparencia", False),
    ("Migrantes detenidos por el INM", "Remesas enviadas por migrantes", False),
    ("Calidad del aire en Monterrey", "Calidad de vida en Monterrey", False),
    ("Precios de la tortilla por ciudad", "Precios de la vivienda por ciudad", False),
    ("Cobertura de internet por municipio", "Cobertura de vacunación por municipio", False),
    ("Muertes maternas por estado", "muertes por accidentes de trabajo por estado", False),
    ("Obras de infraestructura carretera", "Obras de infraestructura hidráulica", False),
    ("Escuelas sin agua potable", "escuelas sin internet", False),
]

# Written after the matcher was frozen and never used to tune it (one fix was
# made after seeing it, "estatal" -> "estado", which moved it from P 0.83 /
# R 0.83 to P 0.84 / R 0.89). Its floor below is a regression guard, not a
# target: if it drops, look for what broke rather than adjusting to these rows.
HELDOUT_PAIRS = [

    ("Recolección de basura por colonia", "rutas y horarios de recoleccion de basura en cada colonia", True),
    ("Baches reportados en la ciudad", "reportes de baches por alcaldia", True),
    ("Luminarias del alumbrado público", "alumbrado publico: ubicacion de luminarias", True),
    ("Bibliotecas públicas por municipio", "listado de bibliotecas publicas municipales", True),
    ("Ciclovías de la CDMX", "red de ciclovias en la ciudad de mexico", True),
    ("Puntos de acceso a internet gratuito (WiFi público)", "ubicacion de puntos wifi gratuitos", True),
    ("Pensiones del IMSS por tipo", "pensionados del imss por tipo de pensión", True),
    ("Tasa de desempleo por estado", "desempleo estatal trimestral", True),
    ("Salario mínimo histórico", "historico del salario minimo", True),
    ("Cruces fronterizos de personas", "personas que cruzan la frontera", True),
    ("Residuos sólidos generados por municipio", "generacion de residuos solidos municipales", True),
    ("Sismos registrados en México", "registro de sismos del servicio sismológico nacional", True),
    ("Casillas electorales por sección", "ubicación de casillas por seccion electoral", True),
    ("Museos y visitantes por año", "numero de visitantes a museos por ano", True),
    ("Producción agrícola por cultivo y estado", "produccion agricola estatal por cultivo", True),
    ("Juicios de amparo por tribunal", "amparos promovidos por tribunal", True),
    ("Hospitalizaciones por diabetes", "pacientes hospitalizados por diabetes", True),
    ("Gasto en medicamentos del ISSSTE", "compras de medicinas del issste", True),
    ("Recolección de basura por colonia", "Tiraderos de basura clandestinos", False),
    ("Bibliotecas públicas por municipio", "Escuelas públicas por municipio", False),
    ("Pensiones del IMSS", "Guarderías del IMSS", False),
    ("Tasa de desempleo por estado", "Tasa de natalidad por estado", False),
    ("Salario mínimo histórico", "Precio histórico de la tortilla", False),
    ("Sismos registrados en México", "Huracanes registrados en México", False),
    ("Casillas electorales por sección", "Resultados electorales por sección", False),
    ("Museos y visitantes por año", "Turistas internacionales por año", False),
    ("Producción agrícola por cultivo y estado", "Producción de petróleo por estado", False),
    ("Juicios de amparo por tribunal", "Juicios laborales por tribunal", False),
    ("Hospitalizaciones por diabetes", "Hospitalizaciones por COVID-19", False),
    ("Ciclovías de la CDMX", "Estaciones de Ecobici en la CDMX", False),
    ("Gasto en medicamentos del ISSSTE", "Abasto de medicamentos en hospitales del ISSSTE", False),
    ("Residuos sólidos generados por municipio", "Residuos peligrosos por empresa", False),
    ("Cruces fronterizos de personas", "Cruces fronterizos de mercancías", False),
    ("Puntos de acceso a internet gratuito", "Velocidad de internet por municipio", False),
    ("Baches reportados en la ciudad", "Fugas de agua reportadas en la ciudad", False),
    ("Luminarias del alumbrado público", "Quejas por fallas del alumbrado público", False),
]

REQUIRED_PRECISION = 0.85
REQUIRED_RECALL = 0.85
HELDOUT_FLOOR = 0.75


def _all_titles() -> list[str]:
    return sorted({t for a, b, _ in LABELLED_PAIRS + HELDOUT_PAIRS for t in (a, b)})


def build_labelled_index() -> ProposalIndex:
    """Index over every labelled title (both sets), ids are positions."""
    return ProposalIndex(enumerate(_all_titles()))


def evaluate(pairs, index: ProposalIndex, threshold: float = THRESHOLD) -> dict:
    """Precision/recall of ``index.similarity >= threshold`` on labelled pairs."""
    tp = fp = fn = 0
    errors = []
    for a, b, is_dup in pairs:
        score = index.similarity(a, b)
        predicted = score >= threshold
        tp += predicted and is_dup
        fp += predicted and not is_dup
        fn += (not predicted) and is_dup
        if predicted != is_dup:
            errors.append((round(score, 3), "FP" if predicted else "FN", a, b))
    return {
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "errors": sorted(errors),
    }


def report_metrics(threshold: float = THRESHOLD) -> dict:
    """Print precision/recall on the tuned and held-out sets; return them."""
    index = build_labelled_index()
    results = {}
    for name, pairs in (("labelled", LABELLED_PAIRS), ("held-out", HELDOUT_PAIRS)):
        r = evaluate(pairs, index, threshold)
        results[name] = r
        print(
            f"\n[matching] {name}: {len(pairs)} pairs, threshold={threshold:.2f} "
            f"precision={r['precision']:.3f} recall={r['recall']:.3f} "
            f"(tp={r['tp']} fp={r['fp']} fn={r['fn']})"
        )
        for score, kind, a, b in r["errors"]:
            print(f"[matching]   {kind} {score:.3f}  {a!r} ~ {b!r}")
    return results


@pytest.fixture(scope="module")
def labelled_index() -> ProposalIndex:
    return build_labelled_index()


# ---------------------------------------------------------------------------
# Accuracy
# ---------------------------------------------------------------------------


def test_labelled_set_is_balanced_and_large_enough():
    assert len(LABELLED_PAIRS) >= 60
    dups = sum(1 for *_, d in LABELLED_PAIRS if d)
    assert 0.4 <= dups / len(LABELLED_PAIRS) <= 0.6
    assert len({(a, b) for a, b, _ in LABELLED_PAIRS}) == len(LABELLED_PAIRS)


def test_precision_and_recall_at_threshold():
    results = report_metrics()
    tuned = results["labelled"]
    assert tuned["precision"] >= REQUIRED_PRECISION, tuned["errors"]
    assert tuned["recall"] >= REQUIRED_RECALL, tuned["errors"]
    heldout = results["held-out"]
    assert heldout["precision"] >= HELDOUT_FLOOR, heldout["errors"]
    assert heldout["recall"] >= HELDOUT_FLOOR, heldout["errors"]


def test_corpus_free_similarity_is_also_usable():
    # similarity() has no IDF; it should still separate the classes decently.
    tp = sum(similarity(a, b) >= THRESHOLD and d for a, b, d in LABELLED_PAIRS)
    fp = sum(similarity(a, b) >= THRESHOLD and not d for a, b, d in LABELLED_PAIRS)
    fn = sum(similarity(a, b) < THRESHOLD and d for a, b, d in LABELLED_PAIRS)
    assert tp / (tp + fp) >= 0.85 and tp / (tp + fn) >= 0.85


# ---------------------------------------------------------------------------
# Normalisation and terms
# ---------------------------------------------------------------------------


def test_normalize_accents_case_punctuation():
    assert normalize("Calidad del AIRE, por Municipio!") == "calidad del aire por municipio"
    assert normalize("Información pública: ¿Cuántos niños?") == "informacion publica cuantos ninos"
    assert normalize("  precios\tde   la\ngasolina  ") == "precios de la gasolina"
    assert normalize("Vacunación COVID-19 (2023)") == "vacunacion covid 19 2023"
    assert normalize("covid19") == "covid 19"
    assert normalize("") == ""


def test_terms_drop_stop_and_generic_words():
    assert terms("Base de datos de la información del registro") == frozenset()
    assert terms("datos de escuelas") == terms("escuelas")
    assert terms("Listado de escuelas") == terms("escuela") != frozenset()


def test_terms_fold_inflection_and_accents():
    assert terms("municipio") == terms("municipales") == terms("Municipal")
    assert terms("contratos") == terms("contratación") == terms("CONTRATACION")
    assert terms("escuela") == terms("escuelas") == terms("escolar")
    assert terms("hospital") == terms("hospitales")
    assert terms("Ciudad de México") == terms("CDMX")
    # Different words must stay different.
    assert terms("transporte") != terms("transparencia")
    assert terms("seguro") != terms("seguridad")
    assert terms("aire") != terms("agua")
    assert stem("violencia") != stem("violaciones")


def test_terms_keep_numbers():
    assert "2023" in terms("Presupuesto 2023")
    assert "2024" in terms("Presupuesto 2024") and terms("Presupuesto 2023") != terms("Presupuesto 2024")
    # "19" belongs to the name of the disease, not to a year.
    assert terms("casos de COVID-19") == terms("casos de covid19") == terms("casos de covid 19")


# ---------------------------------------------------------------------------
# Similarity behaviour
# ---------------------------------------------------------------------------

REQUIRED_A = "Calidad del aire por municipio"
REQUIRED_B = "datos municipales de calidad de aire"


def test_required_example_matches(labelled_index):
    assert similarity(REQUIRED_A, REQUIRED_B) >= THRESHOLD
    assert labelled_index.similarity(REQUIRED_A, REQUIRED_B) >= THRESHOLD
    index = ProposalIndex(
        [
            (1, REQUIRED_B),
            (2, "Calidad del agua por municipio"),
            (3, "Precios de la gasolina por estación"),
            (4, "Incidencia delictiva por municipio"),
        ]
    )
    assert [i for i, _ in index.search(REQUIRED_A)] == [1]


@pytest.mark.parametrize(
    "a, b",
    [
        ("Base de datos de escuelas", "Base de datos de hospitales"),
        ("Registro nacional de personas desaparecidas", "Registro nacional de vehículos robados"),
        ("Información por estado de homicidios", "Información por estado de escuelas"),
        ("Datos nacionales de empleo", "Datos nacionales de salud"),
        ("Listado de concesiones de agua", "Listado de contratos de obra"),
        ("Calidad del aire por municipio", "Calidad del agua por municipio"),
        ("Precios de gasolina", "Precios de la canasta básica"),
    ],
)
def test_generic_shared_words_do_not_match(labelled_index, a, b):
    assert similarity(a, b) < THRESHOLD
    assert labelled_index.similarity(a, b) < THRESHOLD


def test_symmetry_on_labelled_pairs(labelled_index):
    for a, b, _ in LABELLED_PAIRS + HELDOUT_PAIRS:
        assert similarity(a, b) == similarity(b, a)
        assert labelled_index.similarity(a, b) == labelled_index.similarity(b, a)


def test_word_order_invariance(labelled_index):
    a = "precios de la gasolina por estación de servicio"
    b = "por estación de servicio, gasolina: precios"
    assert similarity(a, b) == 1.0
    assert labelled_index.similarity(a, b) == 1.0


def test_typos_still_match():
    assert similarity("Precio de la gasolna", "precios de gasolina") >= THRESHOLD
    assert similarity("hospitlaes del imss", "Hospitales del IMSS") >= THRESHOLD


def test_empty_or_contentless_text_matches_nothing():
    assert similarity("", "") == 0.0
    assert similarity("datos de la", "datos de la") == 0.0
    assert ProposalIndex([(1, "escuelas")]).search("datos de la") == []


# ---------------------------------------------------------------------------
# ProposalIndex
# ---------------------------------------------------------------------------


def test_search_limit_and_order():
    index = ProposalIndex(
        (i, f"Precios de la gasolina por estación {suffix}")
        for i, suffix in enumerate(["", "2023", "mensual", "por municipio", "en CDMX",
                                     "por estado", "históricos", "diarios"])
    )
    hits = index.search("precio gasolina")
    assert len(hits) == 5
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    # Equal scores are ordered by id.
    for (id1, s1), (id2, s2) in itertools.pairwise(hits):
        assert s1 > s2 or id1 < id2
    assert len(index.search("precio gasolina", limit=2)) == 2
    assert index.search("precio gasolina", limit=0) == []


def test_remove_and_replace():
    index = ProposalIndex([(1, REQUIRED_B), (2, "Calidad del aire en cada municipio")])
    assert {i for i, _ in index.search(REQUIRED_A)} == {1, 2}
    index.remove(1)
    assert 1 not in index
    assert [i for i, _ in index.search(REQUIRED_A)] == [2]
    index.remove(1)  # idempotent
    index.remove("never added")
    index.add(2, "Licencias de conducir")  # same id replaces the text
    assert index.search(REQUIRED_A) == []
    assert len(index) == 1


def test_pairs_finds_duplicates_not_hard_negatives(labelled_index):
    titles = _all_titles()
    ident = {t: i for i, t in enumerate(titles)}
    found = {(a, b) for a, b, _ in labelled_index.pairs()}
    dup = tuple(sorted((ident[REQUIRED_A], ident[REQUIRED_B])))
    assert dup in found
    neg = tuple(sorted((ident["Calidad del aire por municipio"],
                        ident["Calidad del agua por municipio"])))
    assert neg not in found
    for a, b, s in labelled_index.pairs():
        assert a < b and THRESHOLD <= s <= 1.0


def test_pairs_and_search_agree_with_brute_force(labelled_index):
    # The index prunes candidates; it must never lose a pair brute force finds.
    ids = list(range(len(_all_titles())))
    for threshold in (0.3, THRESHOLD, 0.8):
        brute = sorted(
            (a, b)
            for a, b in itertools.combinations(ids, 2)
            if labelled_index.score(a, b) >= threshold
        )
        assert sorted((a, b) for a, b, _ in labelled_index.pairs(threshold)) == brute
    for query in ("calidad del aire", "gasolna", "hospitales del IMSS", "escuelas por estado"):
        expected = sorted(
            ((i, labelled_index.similarity(query, t)) for i, t in enumerate(_all_titles())),
            key=lambda p: (-p[1], p[0]),
        )
        expected = [p for p in expected if p[1] >= THRESHOLD][:5]
        assert labelled_index.search(query) == expected


def test_similar_to_excludes_itself(labelled_index):
    titles = _all_titles()
    i = titles.index(REQUIRED_A)
    hits = labelled_index.similar_to(i)
    assert i not in [h for h, _ in hits]
    assert titles.index(REQUIRED_B) in [h for h, _ in hits]


# ---------------------------------------------------------------------------
# Performance (generous bounds; targets are 1 s build, 20 ms search)
# ---------------------------------------------------------------------------

_TOPICS = [
    "calidad del aire", "calidad del agua", "precios de gasolina", "precios de la canasta básica",
    "incidencia delictiva", "homicidios", "accidentes de tránsito", "contratos de obra pública",
    "hospitales", "escuelas", "presupuesto de egresos", "beneficiarios de programas sociales",
    "concesiones de agua", "licencias de construcción", "multas de tránsito", "deuda pública",
    "incendios forestales", "residuos sólidos", "bibliotecas", "ciclovías", "camas de hospital",
    "vacunación", "casos de dengue", "personas desaparecidas", "desempleo", "pensiones", "sismos",
    "quejas de consumidores", "casillas electorales", "luminarias", "baches", "becas",
]
_EXTRAS = [
    "por municipio", "por estado", "en la CDMX", "mensual", "2023", "2024", "por colonia",
    "del IMSS", "por sexo y edad", "por tipo", "otorgados", "por escuela", "por proveedor",
    "en Jalisco", "por causa",
]


def synthetic_titles(n: int, seed: int = 7) -> list[str]:
    """Plausible titles with random qualifiers and occasional typos."""
    rng = random.Random(seed)
    prefixes = ["", "", "Datos de ", "Base de datos de ", "Registro de ", "Número de "]
    out = []
    for _ in range(n):
        words = (rng.choice(prefixes) + rng.choice(_TOPICS)).split()
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            words += rng.choice(_EXTRAS).split()
        for k, w in enumerate(words):
            if len(w) > 5 and rng.random() < 0.1:  # drop a letter: a typo
                j = rng.randrange(1, len(w) - 1)
                words[k] = w[:j] + w[j + 1 :]
        out.append(" ".join(words))
    return out


def test_performance_on_5000_titles():
    titles = synthetic_titles(5000)
    start = time.perf_counter()
    index = ProposalIndex(enumerate(titles))
    build = time.perf_counter() - start
    queries = synthetic_titles(200, seed=8)
    index.search(queries[0])  # warm the IDF cache, as a live index would be
    times = []
    for q in queries:
        start = time.perf_counter()
        index.search(q)
        times.append(time.perf_counter() - start)
    print(
        f"\n[matching] 5000 titles: build {build * 1000:.0f} ms, search median "
        f"{statistics.median(times) * 1000:.2f} ms, max {max(times) * 1000:.2f} ms"
    )
    assert build < 3.0
    assert statistics.median(times) < 0.020


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

_WORDS = sorted({w for a, b, _ in LABELLED_PAIRS for w in (a + " " + b).split()})
spanish_text = st.lists(st.sampled_from(_WORDS), min_size=0, max_size=8).map(" ".join)
any_text = st.one_of(spanish_text, st.text(max_size=60))
_PROPS = settings(max_examples=300, deadline=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture])


@_PROPS
@given(any_text)
def test_self_similarity_is_one_when_there_are_terms(text):
    expected = 1.0 if terms(text) else 0.0
    assert similarity(text, text) == expected


@_PROPS
@given(any_text, any_text)
def test_similarity_symmetric_and_bounded(a, b):
    s = similarity(a, b)
    assert 0.0 <= s <= 1.0
    assert s == similarity(b, a)


@_PROPS
@given(any_text)
def test_normalize_is_idempotent_and_ascii(text):
    out = normalize(text)
    assert normalize(out) == out
    assert all(c.isascii() and (c.isalnum() or c == " ") for c in out)
    assert out == out.strip() and "  " not in out


@_PROPS
@given(st.lists(spanish_text, min_size=1, max_size=12), spanish_text)
def test_index_search_bounded_sorted_and_limited(texts, query):
    index = ProposalIndex(enumerate(texts))
    hits = index.search(query, limit=3, threshold=0.2)
    assert len(hits) <= 3
    assert all(0.2 <= s <= 1.0 for _, s in hits)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


if __name__ == "__main__":
    report_metrics()
