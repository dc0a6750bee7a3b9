"""The IDMX list export: rows from the allow-list, DCAT-AP 3.0.0 validity, and drafts never exported."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from idmx.db import models as m
from idmx.errors import NotFound
from idmx.idmx_list import dcat
from idmx.idmx_list import export as idmx_list_export
from idmx.idmx_list import services as idmx_list
from idmx.plans import policy
from idmx.plans import services as plan_items
from tests import factories

# The shapes stay in the workspace's shared specs (not copied into the project): next to the checkout,
# or wherever IDMX_SPECS_DIR points, or the workspace's usual place for clones made elsewhere.
_SPEC = Path("dcat-ap-3.0.0") / "dcat-ap-SHACL.ttl"
_CANDIDATES = [Path(os.environ["IDMX_SPECS_DIR"]) / _SPEC] if os.environ.get("IDMX_SPECS_DIR") else []
_CANDIDATES += [Path(__file__).resolve().parents[3] / "shared" / "specs" / _SPEC, Path("/work/shared/specs") / _SPEC]
SHAPES = next((p for p in _CANDIDATES if p.exists()), _CANDIDATES[0])
TODAY = date(2027, 3, 1)


def _answer_three(db, edition: m.Edition) -> list[int]:
    """Commit the first item, publish the second, deny the third."""
    with db.write() as s:
        ids = list(s.scalars(select(m.InfrastructureItem.plan_item_id).where(m.InfrastructureItem.edition_id == edition.id)
                             .order_by(m.InfrastructureItem.rank)))
        basis = s.scalar(select(m.LegalBasis.id).limit(1))
        first, second, third = (s.get(m.PlanItem, i) for i in ids[:3])
        plan_items.apply_move(s, first, lambda a: policy.commit(a, date(2027, 4, 1), TODAY), actor_id=None)
        plan_items.apply_move(s, second, lambda a: policy.publish(a, "https://datos.gob.mx/dataset/aire", TODAY, "cat-1"), actor_id=None)
        plan_items.apply_move(s, third, lambda a: policy.deny(a, basis, "Contiene datos personales."), actor_id=None)
    return ids


def test_rows_follow_the_allow_list_in_rank_order(db):
    edition = factories.published_edition(db, ["Calidad del aire", "Descargas de agua", "Emisiones de CO2"],
                                          topic="environment", published_on=date(2027, 2, 1))
    ids = _answer_three(db, edition)
    with db.read() as s:
        export = idmx_list.edition_export(s, s.get(m.Edition, edition.id), TODAY)
    assert [tuple(r) for r in export.rows] == [idmx_list_export.COLUMNS] * 3
    assert [r["rank"] for r in export.rows] == [1, 2, 3]
    assert [r["status"] for r in export.rows] == ["committed", "published_on_time", "denied"]
    assert export.rows[0]["due_date"] == date(2027, 4, 1)
    assert export.rows[1]["published_url"] == "https://datos.gob.mx/dataset/aire"
    assert export.rows[2]["item_path"] == f"/items/{ids[2]}"
    # Published on Constitution Day (Monday 1 February 2027): counting starts on Tuesday the 2nd, skips
    # weekends and Juárez's day (Monday 15 March); the 65th business day after it is Wednesday 5 May.
    assert export.rows[0]["policy_due"] == date(2027, 5, 5)


def test_a_draft_edition_is_not_exported(db):
    with db.write() as s:
        draft = m.Edition(series="idmx-borrador", title_es="Borrador")
        s.add(draft)
    with db.read() as s:
        with pytest.raises(NotFound):
            idmx_list.edition_export(s, s.get(m.Edition, draft.id), TODAY)
        with pytest.raises(NotFound):
            idmx_list.find_published(s, "idmx-borrador")


@pytest.mark.skipif(not SHAPES.exists(), reason=f"DCAT-AP 3.0.0 shapes not found at {SHAPES}")
def test_dcat_catalogue_parses_with_rdflib_and_conforms_to_dcat_ap_3(db):
    pyshacl = pytest.importorskip("pyshacl")
    import rdflib

    edition = factories.published_edition(db, ["Calidad del aire", "Descargas de agua", "Emisiones de CO2"],
                                          topic="environment", published_on=date(2027, 2, 1))
    _answer_three(db, edition)
    with db.read() as s:
        export = idmx_list.edition_export(s, s.get(m.Edition, edition.id), TODAY)
    document = dcat.catalogue(export, "https://idmx.example.mx")
    graph = rdflib.Graph().parse(data=json.dumps(document, default=str), format="json-ld")

    DCAT, DCT = rdflib.Namespace("http://www.w3.org/ns/dcat#"), rdflib.Namespace("http://purl.org/dc/terms/")
    datasets = set(graph.subjects(rdflib.RDF.type, DCAT.Dataset))
    assert len(datasets) == 3
    for ds in datasets:
        assert graph.value(ds, DCT.publisher) is not None
        assert graph.value(ds, DCAT.theme) is not None
        assert graph.value(ds, DCAT.landingPage) is not None
    issued = {str(graph.value(ds, DCT.title)): graph.value(ds, DCT.issued) for ds in datasets}
    assert issued["Calidad del aire"].toPython() == date(2027, 4, 1)  # planned: the committed due date
    assert issued["Descargas de agua"].toPython() == TODAY  # actual publication date
    assert issued["Emisiones de CO2"] is None  # denied: no date to promise

    shapes = rdflib.Graph().parse(SHAPES, format="turtle")
    conforms, _graph, report = pyshacl.validate(graph, shacl_graph=shapes, inference="none", advanced=True)
    assert conforms, report


def test_every_format_downloads_from_the_public_edition_page_and_the_command_line(client, db, tmp_path, monkeypatch):
    import openpyxl
    from click.testing import CliRunner

    from idmx.cli import main

    edition = factories.published_edition(db, ["=HYPERLINK(\"http://x\")", "Descargas de agua"], series="idmx-descarga")
    page = client.get("/idmx/idmx-descarga/v1")
    assert page.status_code == 200 and 'id="downloads"' in page.text
    csv = client.get("/idmx/idmx-descarga/v1/idmx.csv")
    assert csv.status_code == 200 and csv.content.startswith("\ufeff".encode())
    assert "'=HYPERLINK" in csv.text and "\r\n" in csv.text
    assert csv.headers["content-disposition"].endswith('idmx-descarga-v1.csv"')
    data = client.get("/idmx/idmx-descarga/v1/idmx.json").json()
    assert [i["title"] for i in data["items"]][1] == "Descargas de agua" and data["columns"] == list(idmx_list_export.COLUMNS)
    xlsx = client.get("/idmx/idmx-descarga/v1/idmx.xlsx")
    (tmp_path / "l.xlsx").write_bytes(xlsx.content)
    sheet = openpyxl.load_workbook(tmp_path / "l.xlsx").active
    assert sheet["A2"].value == 1 and sheet["C2"].value.startswith("'=") and sheet["C2"].data_type == "s"
    assert client.get("/idmx/idmx-descarga/v1/idmx.jsonld").json()["@graph"][0]["@type"] == "dcat:Catalog"
    assert client.get("/idmx/idmx-descarga/v1/idmx.exe").status_code == 404
    assert client.get("/idmx/idmx-descarga/v2/idmx.csv").status_code == 404

    monkeypatch.setenv("IDMX_DATABASE_URL", db.engine.url.render_as_string(hide_password=False))
    out = tmp_path / "lista.csv"
    result = CliRunner().invoke(main, ["export", "edition", "idmx-descarga", "--format", "csv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == csv.content
    assert edition.id
