"""Batch duplicate finding: find_pairs, clusters, the CSV contract, determinism."""

from __future__ import annotations

import csv
import io
import json
import random
import subprocess
import sys
import textwrap

import pytest

from idmx.matching import (
    THRESHOLD,
    ProposalRow,
    ProposalsCSVError,
    ThesaurusError,
    clusters,
    find_pairs,
    read_proposals_csv,
    write_pairs_csv,
)
from idmx.matching.thesaurus import Thesaurus
from tests.matching.test_matching import synthetic_titles
from tests.matching.test_quality import load_part

FUEL_A = "Precios diarios de gasolina y diésel por estación de servicio"
FUEL_B = "Cuánto cuesta el combustible en cada gasolinera, actualizado todos los días"
CRIME_A = "Incidencia delictiva por municipio"
CRIME_B = "Delitos denunciados cada mes en cada municipio"


def write_bytes(tmp_path, data: bytes):
    path = tmp_path / "proposals.csv"
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------------------
# find_pairs
# ---------------------------------------------------------------------------


def test_find_pairs_orients_pairs_by_input_order_and_sorts_best_first():
    rows = [("z", CRIME_B, ""), ("a", FUEL_A, ""), ("m", CRIME_A, ""), ("b", FUEL_B, ""),
            ("c", "Concesiones mineras vigentes", "")]
    pairs = find_pairs(rows)
    assert {(a, b) for a, b, _ in pairs} == {("z", "m"), ("a", "b")}
    assert [s for *_, s in pairs] == sorted((s for *_, s in pairs), reverse=True)
    assert all(THRESHOLD <= s <= 1.0 for *_, s in pairs)


def test_find_pairs_accepts_two_field_rows_and_rejects_repeated_ids():
    assert find_pairs([(1, FUEL_A), (2, FUEL_B)])[0][:2] == (1, 2)
    assert find_pairs([]) == []
    with pytest.raises(ValueError, match="duplicate id"):
        find_pairs([("1", FUEL_A, ""), ("1", FUEL_B, "")])


def test_a_vague_title_is_read_with_its_description():
    vague = ("g", "Gasolina", "Quiero saber el precio de la gasolina en cada gasolinera, día por día. Gracias.")
    rows = [("a", FUEL_A, ""), vague, ("i", "Importaciones de gasolina por aduana", "")]
    assert {(a, b) for a, b, _ in find_pairs(rows)} == {("a", "g")}
    # Without the description, "Gasolina" does not say it wants prices.
    bare = find_pairs([("a", FUEL_A), ("g", "Gasolina"), ("i", "Importaciones de gasolina por aduana")])
    assert ("a", "g") not in {(a, b) for a, b, _ in bare}


def test_descriptions_of_specific_titles_do_not_change_the_result():
    rows = [("1", CRIME_A, "Número de delitos del fuero común por municipio, mes, tipo y subtipo de delito."),
            ("2", CRIME_B, "Una serie mensual con los robos, homicidios y extorsiones denunciados ante las fiscalías.")]
    assert find_pairs(rows) == find_pairs([(i, t) for i, t, _ in rows])


def test_5000_proposals_are_paired_without_self_pairs_or_repeats():
    # How long it takes is benchmarks/duplicates_quality.py's to say (4.22 s on one quiet core), not a test's.
    rows = [(str(i), t, "") for i, t in enumerate(synthetic_titles(5000))]
    pairs = find_pairs(rows)
    keys = [(a, b) for a, b, _ in pairs]
    assert pairs and all(a != b for a, b in keys) and len(set(keys)) == len(keys)
    assert all(0 < score <= 1 for _a, _b, score in pairs)


# ---------------------------------------------------------------------------
# clusters
# ---------------------------------------------------------------------------


def test_clusters_best_first_and_members_by_strength():
    pairs = [("a", "b", 0.7), ("c", "d", 0.95), ("b", "e", 0.8), ("a", "e", 0.75)]
    assert clusters(pairs) == [["c", "d"], ["b", "e", "a"]]


def test_clusters_do_not_chain_through_one_link():
    # price ~ price-and-location ~ location: the outer two never matched, so
    # the three are not one group; "both" stays with its stronger match.
    pairs = [("price", "both", 0.8), ("both", "where", 0.7)]
    assert clusters(pairs) == [["price", "both"]]
    # With the third link present they are one group.
    assert clusters(pairs + [("price", "where", 0.65)]) == [["price", "both", "where"]]


def test_clusters_of_nothing():
    assert clusters([]) == []


def test_clusters_on_the_demo_pairs():
    rows = [("1", FUEL_A), ("2", FUEL_B), ("3", CRIME_A), ("4", CRIME_B), ("5", "Concesiones mineras")]
    assert sorted(map(sorted, clusters(find_pairs(rows)))) == [["1", "2"], ["3", "4"]]


# ---------------------------------------------------------------------------
# CSV contract
# ---------------------------------------------------------------------------

AWKWARD_IDS = ["007", "1e3", " x ", "a,b", 'say "hi"', "ñandú", "0", "-1"]


def test_round_trip_keeps_ids_exactly(tmp_path):
    rows = [ProposalRow(AWKWARD_IDS[0], FUEL_A, "con coma, y \"comillas\"\ny salto de línea"),
            ProposalRow(AWKWARD_IDS[1], FUEL_B, ""),
            ProposalRow(AWKWARD_IDS[2], CRIME_A, ""),
            ProposalRow(AWKWARD_IDS[3], CRIME_B, ""),
            ProposalRow(AWKWARD_IDS[4], "Concesiones mineras vigentes", "")]
    others = ["Vuelos cancelados por aerolínea", "Museos y visitantes", "Sismos registrados por el SSN"]
    rows += [ProposalRow(i, title, "") for i, title in zip(AWKWARD_IDS[5:], others)]
    source = tmp_path / "in.csv"
    with open(source, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "title", "description"])
        writer.writerows(rows)
    read = read_proposals_csv(source)
    assert read == rows
    assert [r.id for r in read] == AWKWARD_IDS

    out = tmp_path / "out.csv"
    pairs = find_pairs(read)
    assert write_pairs_csv(out, pairs) == len(pairs) == 2
    raw = out.read_bytes()
    assert raw.decode("utf-8").splitlines()[0] == "id_a,id_b,score"
    with open(out, encoding="utf-8", newline="") as fh:
        back = list(csv.reader(fh))
    assert back[0] == ["id_a", "id_b", "score"]
    assert {(a, b) for a, b, _ in back[1:]} == {("007", "1e3"), (" x ", "a,b")}
    for _, _, score in back[1:]:
        assert 0.0 <= float(score) <= 1.0 and len(score.split(".")[1]) == 4


def test_write_to_an_open_file_and_empty_output():
    buf = io.StringIO()
    assert write_pairs_csv(buf, []) == 0
    assert buf.getvalue() == "id_a,id_b,score\n"


def test_write_rejects_scores_outside_0_1(tmp_path):
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(ProposalsCSVError):
            write_pairs_csv(tmp_path / "out.csv", [("a", "b", bad)])


def test_byte_order_mark_and_crlf_are_accepted(tmp_path):
    path = write_bytes(tmp_path, "\ufeffid,title,description\r\n007,Título,\r\n\r\n".encode())
    assert read_proposals_csv(path) == [ProposalRow("007", "Título", "")]


@pytest.mark.parametrize("data, message", [
    (b"", "empty file; expected the header id,title,description"),
    (b"id,titulo,descripcion\n1,a,b\n",
     "line 1: expected the header id,title,description, found 'id,titulo,descripcion'"),
    (b"id,title\n1,a\n", "line 1: expected the header id,title,description"),
    (b"title,id,description\n", "line 1: expected the header"),
    (b"id,title,description\n1,a\n", "line 2: expected 3 fields (id,title,description), found 2"),
    (b"id,title,description\n1,a,b,c\n", "line 2: expected 3 fields"),
    (b"id,title,description\n,a,b\n", "line 2: empty id"),
    (b"id,title,description\n7,a,\n07,b,\n7,c,\n", "line 4: id '7' already used on line 2"),
    (b'id,title,description\n1,"a"b,c\n', "line 2: malformed CSV"),
    (b"id,title,description\n1,Caf\xe9,\n", "line 2: not UTF-8 (byte 0xe9 at offset 26)"),
    (b"id,title,description\n1,a,\n2,b,\xff\xfe\n", "line 3: not UTF-8 (byte 0xff"),
])
def test_bad_input_raises_a_one_line_value_error(tmp_path, data, message):
    path = write_bytes(tmp_path, data)
    with pytest.raises(ProposalsCSVError) as info:
        read_proposals_csv(path)
    assert isinstance(info.value, ValueError)
    text = str(info.value)
    assert message in text and "\n" not in text and str(path) in text


def test_missing_file_is_a_contract_error(tmp_path):
    with pytest.raises(ProposalsCSVError, match="cannot read"):
        read_proposals_csv(tmp_path / "nope.csv")


def test_header_case_and_spacing_are_tolerated(tmp_path):
    path = write_bytes(tmp_path, b"ID, Title ,DESCRIPTION\n1,a,b\n")
    assert read_proposals_csv(path) == [ProposalRow("1", "a", "b")]


# ---------------------------------------------------------------------------
# Determinism
# ---------------------------------------------------------------------------


def test_same_pairs_whatever_the_input_order():
    rows, _ = load_part("tuned")
    expected = {frozenset((a, b)): s for a, b, s in find_pairs(rows)}
    shuffled = rows[:]
    random.Random(5).shuffle(shuffled)
    assert {frozenset((a, b)): s for a, b, s in find_pairs(shuffled)} == expected


_SCRIPT = textwrap.dedent("""
    import json, sys
    from idmx.matching import clusters, find_pairs
    from tests.matching.test_quality import load_part
    rows = load_part("tuned")[0] + load_part("heldout")[0]
    pairs = find_pairs(rows)
    print(json.dumps([pairs, clusters(pairs)]))
    print(sorted(m for m in sys.modules if m.split(".")[0] in ("litestar", "sqlalchemy")))
""")


def test_identical_across_processes_and_hash_seeds():
    # Set and dict order depend on PYTHONHASHSEED; results must not.
    outputs = []
    for seed in ("1", "2"):
        proc = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, check=True,
                              env={"PYTHONHASHSEED": seed, "PATH": ""}, cwd=_repo_root())
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1]
    result, modules = outputs[0].splitlines()
    assert json.loads(result)[0]
    # A pure domain module: no web framework, no database layer.
    assert modules == "[]"


def _repo_root() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parents[2])


# ---------------------------------------------------------------------------
# Thesaurus data
# ---------------------------------------------------------------------------


def test_contradicting_thesaurus_entries_are_rejected(tmp_path):
    (tmp_path / "words.json").write_text(json.dumps({"stop": ["de"], "generic": ["datos"]}))
    (tmp_path / "concepts.json").write_text(json.dumps([
        {"concept": "precio", "terms": ["precio", "costo"]},
        {"concept": "preso", "terms": ["precios"]},  # same stem as "precio"
    ]))
    (tmp_path / "agencies.json").write_text("{}")
    (tmp_path / "rewrites.json").write_text("[]")
    with pytest.raises(ThesaurusError, match="'precios' reads as \\[preso:1\\]"):
        Thesaurus.load(tmp_path)


def test_a_small_thesaurus_reads_synonyms_rewrites_and_institutions(tmp_path):
    (tmp_path / "words.json").write_text(json.dumps({"stop": ["de", "el", "la", "por"], "qualifier": ["municipio"]}))
    (tmp_path / "concepts.json").write_text(json.dumps([
        {"concept": "precio", "terms": ["precio", "costo"]},
        {"concept": "luz", "terms": ["electricidad", "luz"]},
    ]))
    (tmp_path / "agencies.json").write_text(json.dumps({"aliases": {"CFE": ["comision federal de electricidad"]},
                                                        "implies": {"CFE": "luz"}}))
    (tmp_path / "rewrites.json").write_text(json.dumps([{"read_as": "precio", "phrases": ["cuanto cuesta"]}]))
    th = Thesaurus.load(tmp_path)
    words = ["cuanto", "cuesta", "la", "luz", "de", "la", "comision", "federal", "de", "electricidad", "por",
             "municipio"]
    read = th.read(words)
    # A word class emits the word's own key; an institution its id and, at
    # half weight, the topic it implies.
    assert read == [("precio", 1.0), ("luz", 1.0), ("cfe", 0.5), ("luz", 0.5), ("munisip", 0.3)]
    assert th.read(["costos", "cfe"]) == [("precio", 1.0), ("cfe", 0.5), ("luz", 0.5)]
