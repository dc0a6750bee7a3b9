"""`idmx duplicates --in proposals.csv --out pairs.csv`, through click's CliRunner (no database)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from idmx.cli import main
from idmx.paths import seeds_dir

GASOLINE = ("Precios diarios de gasolina y diésel por estación de servicio",
            "Cuánto cuesta el combustible en cada gasolinera")
CRIME = ("Incidencia delictiva por municipio", "Delitos denunciados cada mes en cada municipio")


def write(path, text: str | bytes) -> str:
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return str(path)


def rows_csv(rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "title", "description"])
    writer.writerows(rows)
    return out.getvalue()


def run(*args: str):
    return CliRunner().invoke(main, ["duplicates", *args], catch_exceptions=False)


def read_pairs(path) -> list[tuple[str, str, float]]:
    text = path.read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(text, newline=""))
    assert next(reader) == ["id_a", "id_b", "score"]
    return [(a, b, float(score)) for a, b, score in reader]


def test_the_demo_pairs_are_found(tmp_path):
    proposals = json.loads((seeds_dir() / "demo_proposals.json").read_text(encoding="utf-8"))
    rows = [(f"p{i}", p["title"], p.get("description", "")) for i, p in enumerate(proposals)]
    ids = {title: ident for ident, title, _ in rows}
    out = tmp_path / "pairs.csv"
    result = run("--in", write(tmp_path / "proposals.csv", rows_csv(rows)), "--out", str(out))
    assert result.exit_code == 0, result.output
    pairs = read_pairs(out)
    found = {frozenset((a, b)) for a, b, _ in pairs}
    gasoline = [ident for ident, title, _ in rows if title.startswith(GASOLINE[1])] + [ids[GASOLINE[0]]]
    assert frozenset(gasoline) in found
    assert frozenset((ids[CRIME[0]], ids[CRIME[1]])) in found
    assert all(0.0 <= s <= 1.0 for *_, s in pairs)
    assert [s for *_, s in pairs] == sorted((s for *_, s in pairs), reverse=True)
    assert "pair(s)" in result.output  # the summary goes to standard error, mixed in by the runner


def test_ids_are_kept_exactly_as_written_and_descriptions_may_be_empty(tmp_path):
    rows = [("007", CRIME[0], ""), (" x ", "Calidad del aire por municipio", ""), ("1e3", CRIME[1], ""),
            ("0042", "Datos municipales de calidad del aire", ""), ("otro", "Escuelas públicas por estado", "")]
    out = tmp_path / "pairs.csv"
    result = run("--in", write(tmp_path / "in.csv", rows_csv(rows)), "--out", str(out))
    assert result.exit_code == 0, result.output
    pairs = read_pairs(out)
    assert {(a, b) for a, b, _ in pairs} == {("007", "1e3"), (" x ", "0042")}
    raw = out.read_bytes().decode("utf-8")
    assert raw.startswith("id_a,id_b,score\n") and "\r" not in raw


def test_a_byte_order_mark_and_an_empty_file_of_proposals(tmp_path):
    out = tmp_path / "pairs.csv"
    result = run("--in", write(tmp_path / "in.csv", "\ufeffid,title,description\n"), "--out", str(out))
    assert result.exit_code == 0 and read_pairs(out) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id,name\n1,Gasolina\n", "line 1: expected the header id,title,description"),
        ("", "empty file"),
        ("id,title,description\n1,Gasolina\n", "line 2: expected 3 fields"),
        ("id,title,description\n1,Gasolina,\n1,Diésel,\n", "already used on line 2"),
        ("id,title,description\n,Gasolina,\n", "line 2: empty id"),
        (b"id,title,description\n1,Precios del di\xe9sel,\n", "not UTF-8"),
    ],
)
def test_a_bad_file_gives_one_line_and_exit_status_1(tmp_path, content, message):
    out = tmp_path / "pairs.csv"
    result = CliRunner().invoke(main, ["duplicates", "--in", write(tmp_path / "in.csv", content), "--out", str(out)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.output
    assert not out.exists()


def test_a_missing_input_or_an_unwritable_output_is_one_line_too(tmp_path):
    result = CliRunner().invoke(main, ["duplicates", "--in", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1 and "cannot read" in result.output
    source = write(tmp_path / "in.csv", rows_csv([("1", CRIME[0], "")]))
    result = CliRunner().invoke(main, ["duplicates", "--in", source, "--out", str(tmp_path / "no" / "dir.csv")])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1 and "cannot write" in result.output


def test_standard_input_and_output(tmp_path):
    result = CliRunner().invoke(main, ["duplicates", "--in", "-", "--out", "-"],
                                input=rows_csv([("a", CRIME[0], ""), ("b", CRIME[1], "")]).encode("utf-8"))
    assert result.exit_code == 0
    assert result.stdout.splitlines()[:2][0] == "id_a,id_b,score" and result.stdout.splitlines()[1].startswith("a,b,")
