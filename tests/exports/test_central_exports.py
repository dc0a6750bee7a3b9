"""Plans and compliance as CSV/XLSX/JSON, the central export page /staff/exports, and `idmx export
plan|plans|compliance` writing the very bytes the web serves (one code path)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta

import openpyxl
import pytest
from click.testing import CliRunner
from litestar.testing import TestClient
from sqlalchemy import select

from idmx import clock
from idmx.accounts.services import create_user
from idmx.cli import main
from idmx.db import Database
from idmx.db import models as m
from idmx.plans import export as plan_export
from idmx.plans import policy
from idmx.plans import services as plan_items
from tests import factories
from tests.accounts.test_auth import PASSWORD, login

CENTRAL_EMAIL, ADMIN_EMAIL, MOD_EMAIL = "central@idmx.gob.mx", "admin@semarnat.gob.mx", "mod@semarnat.gob.mx"


def plan_world(db: Database) -> dict:
    """SEMARNAT: a published edition's three items (committed, published, denied) and one of its own;
    INEGI: one pending item. Returns the ids and the committed due date."""
    edition = factories.published_edition(db, ["Calidad del aire", "Descargas de agua", "Emisiones de CO2"],
                                          series="idmx-central")
    on = clock.today()
    due = on + timedelta(days=30)
    with db.write() as s:
        ids = list(s.scalars(select(m.InfrastructureItem.plan_item_id).where(m.InfrastructureItem.edition_id == edition.id)
                             .order_by(m.InfrastructureItem.rank)))
        basis = s.scalar(select(m.LegalBasis.id).order_by(m.LegalBasis.id).limit(1))
        first, second, third = (s.get(m.PlanItem, i) for i in ids)
        plan_items.apply_move(s, first, lambda a: policy.commit(a, due, on), actor_id=None)
        plan_items.apply_move(s, second, lambda a: policy.publish(a, "https://datos.gob.mx/dataset/agua", on, "cat-2"),
                         actor_id=None)
        plan_items.apply_move(s, third, lambda a: policy.deny(a, basis, "Contiene datos personales."), actor_id=None)
        semarnat, inegi = (s.scalar(select(m.Institution.id).where(m.Institution.acronym == a)) for a in ("SEMARNAT", "INEGI"))
        own = plan_items.create_item(s, institution_id=semarnat, source=m.PlanSource.own, title="Inventario de pozos", today=on)
        census = plan_items.create_item(s, institution_id=inegi, source=m.PlanSource.own, title="Censo por localidad", today=on)
    return {"edition": edition, "committed": ids[0], "published": ids[1], "denied": ids[2], "own": own.id,
            "census": census.id, "due": due}


def _sheet(payload: bytes):
    return openpyxl.load_workbook(io.BytesIO(payload)).worksheets[0]


def _as_date(value) -> date:
    return value.date() if isinstance(value, datetime) else value


# --- plans ---------------------------------------------------------------------------------------------------


def test_one_plan_in_csv_xlsx_and_json(client, db):
    w = plan_world(db)
    r = client.get("/institutions/SEMARNAT/plan.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf") and b"\r\n" in r.content
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))
    assert table[0] == plan_export.header() and len(table) == 5
    assert {row[0] for row in table[1:]} == {str(w[k]) for k in ("committed", "published", "denied", "own")}

    r = client.get("/institutions/semarnat/plan.xlsx")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert re.search(r'filename="plan-semarnat-\d{4}-\d{2}-\d{2}\.xlsx"', r.headers["content-disposition"])
    ws = _sheet(r.content)
    assert ws.freeze_panes == "A2" and all(c.font.b for c in ws[1])
    assert [c.value for c in ws[1]] == plan_export.header()
    by_id = {row[0].value: row for row in ws.iter_rows(min_row=2)}
    assert set(by_id) == {w["committed"], w["published"], w["denied"], w["own"]}  # ids are numbers
    due_cell = by_id[w["committed"]][3]
    assert due_cell.is_date and _as_date(due_cell.value) == w["due"] and due_cell.number_format == "yyyy-mm-dd"
    assert by_id[w["published"]][6].value == "https://datos.gob.mx/dataset/agua"
    # Codes beside labels: the status, the legal basis of a denial.
    assert by_id[w["published"]][5].value == "published_on_time" and by_id[w["denied"]][5].value == "denied"
    assert by_id[w["denied"]][8].value and by_id[w["denied"]][7].value
    assert by_id[w["own"]][3].value is None  # no due date: an empty cell, not ""

    r = client.get("/institutions/SEMARNAT/plan.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    doc = r.json()
    assert doc["institution"]["acronym"] == "SEMARNAT" and doc["institution"]["name"]
    assert doc["columns"] == list(plan_export.KEYS) and doc["statuses_on"] == clock.today().isoformat()
    items = {i["item_id"]: i for i in doc["items"]}
    assert all(list(i) == list(plan_export.KEYS) for i in doc["items"])
    assert items[w["committed"]]["status"] == "committed" and items[w["committed"]]["due_date"] == w["due"].isoformat()
    assert items[w["published"]]["status"] == "published_on_time" and items[w["published"]]["catalogue_id"] == "cat-2"
    assert items[w["denied"]]["status"] == "denied" and items[w["denied"]]["legal_basis"]
    assert items[w["denied"]]["legal_basis_code"] and items[w["denied"]]["status_label"]
    assert items[w["published"]]["source"] and items[w["published"]]["source_label"]
    assert items[w["own"]]["source"] == "own" and items[w["own"]]["due_date"] is None

    for fmt in ("csv", "xlsx", "json"):
        assert client.get(f"/institutions/NOPE/plan.{fmt}").status_code == 404


def test_english_labels_follow_the_language(client, db):
    plan_world(db)
    r = client.get("/institutions/SEMARNAT/plan.csv?lang=en")
    assert r.content.decode("utf-8-sig").startswith("Item,Dataset,")
    r = client.get("/institutions/SEMARNAT/plan.csv")
    assert r.content.decode("utf-8-sig").startswith("Item,") is False


def test_all_plans_in_one_file_name_each_institution(client, db):
    w = plan_world(db)
    r = client.get("/institutions/plans.csv")
    assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))
    assert table[0] == plan_export.header(with_institution=True)
    assert [row[0] for row in table[1:]] == ["INEGI"] + ["SEMARNAT"] * 4  # by acronym, then item
    assert table[1][2] == str(w["census"])

    ws = _sheet(client.get("/institutions/plans.xlsx").content)
    assert ws.freeze_panes == "A2" and ws["A2"].value == "INEGI" and ws["C2"].value == w["census"]
    due_cells = [row[5] for row in ws.iter_rows(min_row=2) if row[2].value == w["committed"]]
    assert due_cells[0].is_date and _as_date(due_cells[0].value) == w["due"]

    doc = client.get("/institutions/plans.json").json()
    assert doc["columns"][:2] == ["institution_acronym", "institution"] and "institution" not in doc
    assert [i["institution_acronym"] for i in doc["items"]] == ["INEGI"] + ["SEMARNAT"] * 4
    assert all(list(i) == doc["columns"] for i in doc["items"])


# --- compliance ----------------------------------------------------------------------------------------------


def test_compliance_in_csv_xlsx_and_json(client, db):
    w = plan_world(db)
    csv_body = client.get("/monitoring.csv")
    assert csv_body.status_code == 200 and csv_body.content.startswith(b"\xef\xbb\xbf")
    rows = {r["acronym"]: r for r in csv.DictReader(io.StringIO(csv_body.content.decode("utf-8-sig")))}
    assert rows["SEMARNAT"]["total"] == "4" and rows["SEMARNAT"]["denied"] == "1"

    r = client.get("/monitoring.xlsx")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    ws = _sheet(r.content)
    header = [c.value for c in ws[1]]
    assert ws.freeze_panes == "A2" and all(c.font.b for c in ws[1])
    sheet_rows = {row[header.index("acronym")].value: row for row in ws.iter_rows(min_row=2)}
    semarnat = sheet_rows["SEMARNAT"]
    assert semarnat[header.index("total")].value == 4 and semarnat[header.index("total")].data_type == "n"
    rate = semarnat[header.index("delivery_rate")]
    assert isinstance(rate.value, float) and rate.data_type == "n"
    assert rate.value == pytest.approx(float(rows["SEMARNAT"]["delivery_rate"]), abs=1e-4)

    doc = client.get("/monitoring.json").json()
    assert doc["statuses_on"] == clock.today().isoformat()
    assert list(doc["institutions"][0]) == doc["columns"]
    by_acronym = {i["acronym"]: i for i in doc["institutions"]}
    assert by_acronym["SEMARNAT"]["total"] == 4 and by_acronym["INEGI"]["delivery_rate"] is None
    assert doc["national"]["total"] == 5 and doc["national"]["denied"] == 1
    assert w["census"]


# --- the command line gives the same bytes -------------------------------------------------------------------


def test_the_command_line_writes_what_the_web_serves(client, db, tmp_path, monkeypatch):
    plan_world(db)
    monkeypatch.setenv("IDMX_DATABASE_URL", db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("IDMX_VAR_DIR", str(tmp_path / "var"))
    cases = [
        (["plan", "SEMARNAT"], "/institutions/SEMARNAT/plan"),
        (["plan", "semarnat", "--lang", "en"], "/institutions/SEMARNAT/plan"),
        (["plans"], "/institutions/plans"),
        (["compliance"], "/monitoring"),
    ]
    for args, url in cases:
        lang = "?lang=en" if "en" in args else ""
        for fmt in ("csv", "json", "xlsx"):
            out = tmp_path / f"{args[0]}-{len(args)}.{fmt}"
            result = CliRunner().invoke(main, ["export", *args, "--format", fmt, "--out", str(out)])
            assert result.exit_code == 0, result.output
            web = client.get(f"{url}.{fmt}{lang}")
            assert web.status_code == 200
            if fmt == "xlsx":  # a workbook records when it was written: compare every cell instead
                cli_rows = [[c.value for c in row] for row in _sheet(out.read_bytes()).iter_rows()]
                web_rows = [[c.value for c in row] for row in _sheet(web.content).iter_rows()]
                assert cli_rows == web_rows and len(cli_rows) > 1, (args, fmt)
            else:
                assert out.read_bytes() == web.content, (args, fmt)
    result = CliRunner().invoke(main, ["export", "plan", "NOPE", "--out", str(tmp_path / "x.csv")])
    assert result.exit_code != 0 and "NOPE:" in result.output


# --- the central export page ---------------------------------------------------------------------------------


def _closed_consultation(db: Database) -> m.Consultation:
    c = factories.consultation(db, "cerrada-central", phase="closed")
    factories.proposals(db, c.id, factories.TITLES[:3])
    factories.consultation(db, "abierta-central", phase="open")
    return c


def test_the_export_page_is_for_the_central_team_only(app, db):
    for email, role, acronym in ((CENTRAL_EMAIL, m.Role.central_admin, None),
                                 (ADMIN_EMAIL, m.Role.institution_admin, "SEMARNAT"),
                                 (MOD_EMAIL, m.Role.institution_moderator, "SEMARNAT")):
        create_user(db, email, PASSWORD, role, acronym)
    with TestClient(app=app) as anonymous:
        r = anonymous.get("/staff/exports", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/staff/login")
    for email in (ADMIN_EMAIL, MOD_EMAIL):
        with TestClient(app=app) as client:
            assert login(client, email).status_code == 303
            assert client.get("/staff/exports", follow_redirects=False).status_code == 403
            assert "/staff/exports" not in client.get("/staff").text  # not in their menu either
    with TestClient(app=app) as client:
        assert login(client, CENTRAL_EMAIL).status_code == 303
        r = client.get("/staff/exports")
        assert r.status_code == 200 and 'href="/staff/exports"' in client.get("/staff").text
        assert '<html lang="es"' in r.text and 'id="exports-editions"' in r.text


def test_every_link_on_the_export_page_downloads(app, db):
    w = plan_world(db)
    c = _closed_consultation(db)
    create_user(db, CENTRAL_EMAIL, PASSWORD, m.Role.central_admin, None)
    with TestClient(app=app) as client:
        login(client, CENTRAL_EMAIL)
        html = client.get("/staff/exports").text
        links = re.findall(r'<a href="([^"]+)" data-format="(\w+)"', html)
        by_format: dict[str, list[str]] = {}
        for href, fmt in links:
            by_format.setdefault(fmt, []).append(href.replace("&amp;", "&"))
        series = w["edition"].series
        for fmt in ("csv", "xlsx", "json", "jsonld"):
            assert f"/idmx/{series}/v1/idmx.{fmt}" in by_format[fmt]
        for fmt in ("csv", "xlsx", "json"):
            assert {f"/institutions/SEMARNAT/plan.{fmt}", f"/institutions/INEGI/plan.{fmt}",
                    f"/institutions/plans.{fmt}", f"/monitoring.{fmt}"} <= set(by_format[fmt])
        assert by_format["zip"] == [f"/c/{c.slug}/data/idmx-{c.slug}-datos.zip"]  # closed ones only
        assert "abierta-central" not in html
        for href, _fmt in links:
            r = client.get(href.replace("&amp;", "&"))
            assert r.status_code == 200, (href, r.status_code)
            assert "attachment" in r.headers.get("content-disposition", ""), href
