"""The open-up plan through HTTP, on SQLite and PostgreSQL: answering, scope, adding datasets, public plan, export.

Assertions use status codes, the database and stable markup (ids, data- attributes), not translated text.
"""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import openpyxl
import pytest
from sqlalchemy import func, select

from idmx import clock
from idmx.accounts.services import create_user
from idmx.db import models as m
from idmx.plans import policy
from idmx.plans import services as answers
from idmx.plans import services as items
from idmx.ranking import services as runs
from tests import factories as f
from tests.accounts.test_auth import PASSWORD, login
from tests.consultations.test_participation import post_form
from tests.plans.days import official_days

EMAILS = {
    "central": "central@idmx.gob.mx",
    "admin": "admin@semarnat.gob.mx",
    "moderator": "mod@semarnat.gob.mx",
    "other": "admin@inegi.gob.mx",
}


@pytest.fixture
def staff(db):
    return {
        "central": create_user(db, EMAILS["central"], PASSWORD, m.Role.central_admin, None),
        "admin": create_user(db, EMAILS["admin"], PASSWORD, m.Role.institution_admin, "SEMARNAT"),
        "moderator": create_user(db, EMAILS["moderator"], PASSWORD, m.Role.institution_moderator, "SEMARNAT"),
        "other": create_user(db, EMAILS["other"], PASSWORD, m.Role.institution_admin, "INEGI"),
    }


def institution_id(db, acronym: str) -> int:
    with db.read() as s:
        return s.scalar(select(m.Institution.id).where(m.Institution.acronym == acronym))


def new_item(db, acronym: str = "SEMARNAT", title: str = "Calidad del aire por estación", *,
             policy_days: int | None = 30, source: m.PlanSource = m.PlanSource.idmx) -> int:
    today = clock.today()
    with db.write() as s:
        item = items.create_item(s, institution_id=institution_id(db, acronym), source=source, title=title, today=today,
                            policy_due=today + timedelta(days=policy_days) if policy_days is not None else None,
                            description="Mediciones horarias")
        return item.id


def item(db, item_id: int) -> m.PlanItem:
    with db.read() as s:
        return s.get(m.PlanItem, item_id)


def history(db, item_id: int) -> list[m.PlanEvent]:
    with db.read() as s:
        return items.item_history(s, item_id)


def legal_basis_id(db) -> int:
    with db.read() as s:
        return s.scalar(select(m.LegalBasis.id).order_by(m.LegalBasis.id).limit(1))


def as_(client, who: str) -> None:
    assert login(client, EMAILS[who]).status_code == 303


def iso(days: int) -> str:
    """About `days` from today: the first working day on or after it (weekends and seeded official days skipped)."""
    return policy.next_business_day(clock.today() + timedelta(days=days), official_days()).isoformat()


# --- scope and roles -------------------------------------------------------------------------------------


def test_an_institution_answers_only_its_own_items(client, db, staff):
    own, other = new_item(db), new_item(db, "INEGI", "Censo de población por localidad")
    as_(client, "admin")
    index = client.get("/staff/plan")
    assert index.status_code == 200
    assert f'id="item-{own}"' in index.text and f'id="item-{other}"' not in index.text
    assert client.get(f"/staff/plan/{other}").status_code == 404
    basis = legal_basis_id(db)
    for action, data in (("commit", {"due_date": iso(5)}), ("publish", {"url": "https://datos.gob.mx/x"}),
                         ("deny", {"legal_basis": basis, "explanation": "No existe"}), ("reopen", {"note": "x"})):
        assert post_form(client, f"/staff/plan/{other}/{action}", data).status_code == 404, action
    assert item(db, other).status == m.PlanStatus.pending
    assert [e.kind for e in history(db, other)] == ["created"]


def test_moderators_are_refused(client, db, staff):
    own = new_item(db)
    as_(client, "moderator")
    assert client.get("/staff/plan").status_code == 403
    assert client.get(f"/staff/plan/{own}").status_code == 403
    assert post_form(client, f"/staff/plan/{own}/commit", {"due_date": iso(5)}).status_code == 403
    assert item(db, own).status == m.PlanStatus.pending


def test_central_team_sees_every_institution_and_may_answer_audited(client, db, staff):
    own, other = new_item(db), new_item(db, "INEGI", "Censo de población por localidad")
    as_(client, "central")
    page = client.get("/staff/plan")
    assert f'id="item-{own}"' in page.text and f'id="item-{other}"' in page.text
    narrowed = client.get(f"/staff/plan?institution={institution_id(db, 'INEGI')}")
    assert f'id="item-{own}"' not in narrowed.text and f'id="item-{other}"' in narrowed.text
    assert post_form(client, f"/staff/plan/{other}/commit", {"due_date": iso(5)}).status_code == 303
    with db.read() as s:
        audit = s.scalars(select(m.AuditEvent).where(m.AuditEvent.action == "plan_item.committed")).one()
    assert audit.actor_id == staff["central"] and audit.object_id == other


# --- answering -------------------------------------------------------------------------------------------


def test_commit_publish_deny_reopen_round_trip_with_history(client, db, staff):
    first, second = new_item(db), new_item(db, title="Emisiones contaminantes por industria")
    as_(client, "admin")
    r = post_form(client, f"/staff/plan/{first}/commit", {"due_date": iso(10), "justification": ""})
    assert r.status_code == 303 and r.headers["location"] == f"/staff/plan/{first}?saved=commit"
    assert item(db, first).due_date == date.fromisoformat(iso(10))
    assert post_form(client, f"/staff/plan/{first}/publish",
                     {"url": "https://datos.gob.mx/aire", "catalogue_id": "semarnat-aire"}).status_code == 303
    published = item(db, first)
    assert published.status == m.PlanStatus.published and published.catalogue_id == "semarnat-aire"

    basis = legal_basis_id(db)
    assert post_form(client, f"/staff/plan/{second}/deny",
                     {"legal_basis": basis, "explanation": "La información no existe"}).status_code == 303
    denied = item(db, second)
    assert denied.status == m.PlanStatus.denied and denied.legal_basis_id == basis
    # A denied item cannot be published before it is reopened: 409, nothing stored.
    r = post_form(client, f"/staff/plan/{second}/publish", {"url": "https://datos.gob.mx/e"})
    assert r.status_code == 409 and 'id="status-error"' in r.text
    assert item(db, second).status == m.PlanStatus.denied
    assert post_form(client, f"/staff/plan/{second}/reopen", {"note": "Se localizó la información"}).status_code == 303
    assert item(db, second).status == m.PlanStatus.pending

    assert [(e.kind, e.from_status, e.to_status) for e in history(db, first)] == [
        ("created", None, "pending"), ("committed", "pending", "committed"), ("published", "committed", "published")]
    assert [e.kind for e in history(db, second)] == ["created", "denied", "reopened"]
    assert all(e.actor_id == staff["admin"] for e in history(db, second)[1:])
    page = client.get(f"/staff/plan/{second}")
    assert page.status_code == 200 and page.text.count("data-kind=") == 3 and 'id="commit-form"' in page.text


def test_a_late_date_needs_a_justification_in_place(client, db, staff):
    own = new_item(db, policy_days=30)
    as_(client, "admin")
    page = client.get(f"/staff/plan/{own}")
    assert 'id="policy-hint"' in page.text
    r = post_form(client, f"/staff/plan/{own}/commit", {"due_date": iso(45), "justification": "  "})
    assert r.status_code == 422
    assert 'id="justification-error"' in r.text and f'value="{iso(45)}"' in r.text
    assert item(db, own).status == m.PlanStatus.pending and len(history(db, own)) == 1
    r = post_form(client, f"/staff/plan/{own}/commit", {"due_date": iso(45), "justification": "Requiere anonimizar"})
    assert r.status_code == 303
    assert item(db, own).late_justification == "Requiere anonimizar"


@pytest.mark.parametrize("raw", ["", "31/12/2027", "2027-02-30", "20271231", "2027-W01-1", "mañana"])
def test_dates_are_parsed_strictly(client, db, staff, raw):
    own = new_item(db)
    as_(client, "admin")
    r = post_form(client, f"/staff/plan/{own}/commit", {"due_date": raw})
    assert r.status_code == 422 and 'id="due_date-error"' in r.text
    assert item(db, own).status == m.PlanStatus.pending


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://datos.gob.mx/a.csv", "datos.gob.mx", ""])
def test_only_http_addresses_are_accepted(client, db, staff, url):
    own = new_item(db)
    as_(client, "admin")
    r = post_form(client, f"/staff/plan/{own}/publish", {"url": url})
    assert r.status_code == 422 and 'id="url-error"' in r.text
    assert item(db, own).status == m.PlanStatus.pending and len(history(db, own)) == 1


@pytest.mark.parametrize("data,field", [({"legal_basis": "", "explanation": "No existe"}, "legal_basis"),
                                        ({"legal_basis": "999999", "explanation": "No existe"}, "legal_basis"),
                                        ({"explanation": "   "}, "explanation")])
def test_a_denial_needs_a_legal_basis_and_an_explanation(client, db, staff, data, field):
    own = new_item(db)
    as_(client, "admin")
    if field == "explanation":
        data = {**data, "legal_basis": legal_basis_id(db)}
    r = post_form(client, f"/staff/plan/{own}/deny", data)
    assert r.status_code == 422 and f'id="{field}-error"' in r.text
    assert item(db, own).status == m.PlanStatus.pending


def test_status_filter_and_counts(client, db, staff):
    a, _b = new_item(db), new_item(db, title="Emisiones contaminantes por industria")
    as_(client, "admin")
    post_form(client, f"/staff/plan/{a}/commit", {"due_date": iso(3)})
    page = client.get("/staff/plan?status=committed")
    assert f'id="item-{a}"' in page.text and f'id="item-{_b}"' not in page.text
    assert 'data-status="committed"><dt>' in page.text


# --- adding datasets -------------------------------------------------------------------------------------


def test_adding_an_own_dataset(client, db, staff):
    as_(client, "admin")
    assert client.get("/staff/plan/new").status_code == 200
    r = post_form(client, "/staff/plan/new", {"title": "abc", "description": "x" * 4001})
    assert r.status_code == 422 and 'id="title-error"' in r.text and 'id="description-error"' in r.text
    r = post_form(client, "/staff/plan/new", {"title": "Permisos de descarga de aguas", "description": "Por cuenca",
                                              "topic": ""})
    assert r.status_code == 303
    with db.read() as s:
        created = s.scalars(select(m.PlanItem)).one()
        assert created.source == m.PlanSource.own and created.policy_due is None
        assert created.institution_id == institution_id(db, "SEMARNAT")
        assert [i.id for i in answers.own_items_for_next_edition(s)] == [created.id]


def test_the_central_team_adds_a_dataset_to_a_chosen_institution(client, db, staff):
    as_(client, "central")
    r = post_form(client, "/staff/plan/new", {"title": "Permisos de descarga de aguas"})
    assert r.status_code == 422 and 'id="institution-error"' in r.text
    inegi = institution_id(db, "INEGI")
    assert f'<option value="{inegi}" selected' in client.get(f"/staff/plan/new?institution={inegi}").text
    r = post_form(client, "/staff/plan/new", {"title": "Permisos de descarga de aguas", "institution": inegi})
    assert r.status_code == 303
    with db.read() as s:
        assert s.scalars(select(m.PlanItem.institution_id)).one() == inegi


def test_own_items_for_next_edition_leaves_out_listed_and_other_sources(db):
    own = new_item(db, source=m.PlanSource.own, policy_days=None)
    listed = new_item(db, title="Permisos de descarga de aguas", source=m.PlanSource.own, policy_days=None)
    request = new_item(db, title="Solicitud de datos de agua", source=m.PlanSource.request, policy_days=None)
    new_item(db, title="Inventario de emisiones IDMX")
    with db.write() as s:
        edition = m.Edition(series="IDMX 2027", title_es="IDMX 2027")
        s.add(edition)
        s.flush()
        s.add(m.InfrastructureItem(edition_id=edition.id, key=1, title="Permisos de descarga", plan_item_id=listed))
    with db.read() as s:
        assert [i.id for i in answers.own_items_for_next_edition(s)] == [own, request]


def test_adding_from_a_closed_consultation_once(client, db, staff):
    c = f.consultation(db, "aire-2026", phase="closed", institution_id=institution_id(db, "SEMARNAT"))
    low, high = f.proposals(db, c.id, ["Ruido urbano por colonia", "Calidad del aire por estación"])
    other = f.consultation(db, "censo-2026", phase="closed", institution_id=institution_id(db, "INEGI"))
    (foreign,) = f.proposals(db, other.id, ["Censo de población por localidad"])
    with db.write() as s:  # a ranking where the second proposal comes first
        s.add(m.RankingRun(consultation_id=c.id, method=m.VotingMethod.approval, params={}, fingerprint="0" * 64,
                           code_version="test", summary={}, results=[
                               {"rank": 1, "proposal_id": high, "score": 0.8},
                               {"rank": 2, "proposal_id": low, "score": 0.2}]))
    assert runs.latest_run(db, c.id) is not None
    as_(client, "admin")
    page = client.get("/staff/plan/consultations")
    assert page.status_code == 200
    assert page.text.index(f'id="proposal-{high}"') < page.text.index(f'id="proposal-{low}"')
    assert f'id="proposal-{foreign}"' not in page.text
    assert post_form(client, f"/staff/plan/proposals/{foreign}/add", {}).status_code == 404
    r = post_form(client, f"/staff/plan/proposals/{high}/add", {})
    assert r.status_code == 303
    again = post_form(client, f"/staff/plan/proposals/{high}/add", {})
    assert again.status_code == 409 and 'id="add-error"' in again.text
    with db.read() as s:
        rows = list(s.scalars(select(m.PlanItem)))
    assert len(rows) == 1 and rows[0].proposal_id == high and rows[0].source == m.PlanSource.consultation
    assert f'id="proposal-{high}"' not in client.get("/staff/plan/consultations").text


def test_an_open_consultations_proposal_cannot_be_added_yet(client, db, staff):
    c = f.consultation(db, "aire-abierta", phase="open", institution_id=institution_id(db, "SEMARNAT"))
    (pid,) = f.proposals(db, c.id, ["Calidad del aire por estación"])
    as_(client, "admin")
    assert post_form(client, f"/staff/plan/proposals/{pid}/add", {}).status_code == 409
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(m.PlanItem)) == 0


# --- the public plan and its export ----------------------------------------------------------------------


def _answered_plan(client, db) -> dict[str, int]:
    late = new_item(db, title="=cmd|' /C calc'!A0", policy_days=10)
    published = new_item(db, title="Calidad del aire por estación")
    denied = new_item(db, title="Emisiones contaminantes por industria")
    as_(client, "admin")
    assert post_form(client, f"/staff/plan/{late}/commit",
                     {"due_date": iso(40), "justification": "Requiere anonimizar microdatos"}).status_code == 303
    assert post_form(client, f"/staff/plan/{published}/publish", {"url": "https://datos.gob.mx/aire"}).status_code == 303
    assert post_form(client, f"/staff/plan/{denied}/deny",
                     {"legal_basis": legal_basis_id(db), "explanation": "No se genera"}).status_code == 303
    client.cookies.clear()
    return {"late": late, "published": published, "denied": denied}


def test_public_plan_shows_answers_and_late_justification(client, db, staff):
    ids = _answered_plan(client, db)
    listing = client.get("/institutions")
    assert listing.status_code == 200 and 'id="institution-SEMARNAT"' in listing.text
    page = client.get("/institutions/semarnat/plan")
    assert page.status_code == 200
    assert "Requiere anonimizar microdatos" in page.text and 'class="late-justification"' in page.text
    assert 'href="https://datos.gob.mx/aire"' in page.text and "No se genera" in page.text
    for item_id in ids.values():
        assert f'href="/items/{item_id}"' in page.text
    assert client.get("/institutions/NOPE/plan").status_code == 404


def test_plan_csv_has_bom_and_neutralised_cells(client, db, staff):
    ids = _answered_plan(client, db)
    r = client.get("/institutions/SEMARNAT/plan.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf")
    text = r.content.decode("utf-8-sig")
    lines = text.split("\r\n")
    assert len([line for line in lines if line]) == 4
    assert "\"'=cmd|' /C calc'!A0\"" in text or "'=cmd|' /C calc'!A0" in text
    assert iso(40) in text and "https://datos.gob.mx/aire" in text
    assert str(ids["denied"]) in text


def test_plan_xlsx_has_typed_cells(client, db, staff):
    _answered_plan(client, db)
    r = client.get("/institutions/SEMARNAT/plan.xlsx")
    assert r.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(r.content)).active
    assert ws.freeze_panes == "A2" and ws["A1"].font.bold
    values = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    assert len(values) == 3
    assert values[0][1] == "'=cmd|' /C calc'!A0"
    due = ws.cell(row=2, column=4)
    assert due.is_date and isinstance(due.value, (date, datetime))
    due_value = due.value.date() if isinstance(due.value, datetime) else due.value
    assert due_value == date.fromisoformat(iso(40))
    assert isinstance(ws.cell(row=2, column=1).value, int)


def test_an_upper_case_scheme_is_refused_in_place_not_a_server_error(client, db, staff):
    own = new_item(db)
    as_(client, "admin")
    # The database checks the address with a case-sensitive LIKE on PostgreSQL: the policy must agree.
    r = post_form(client, f"/staff/plan/{own}/publish", {"url": "HTTPS://datos.gob.mx/aire"})
    assert r.status_code == 422 and 'id="url-error"' in r.text
    assert item(db, own).status == m.PlanStatus.pending


def test_plan_export_shapes_rows_from_plain_data():
    from idmx.plans import export as plan_export

    records = [plan_export.PlanRecord(id=7, title="@SUM(A1)", description="-2+3", source=m.PlanSource.own,
                                      public_status="overdue", due_date=date(2027, 1, 4), policy_due=None,
                                      late_justification="=HYPERLINK(\"x\")")]
    text = "".join(plan_export.csv_text(records))
    assert text.startswith("\ufeff") and text.endswith("\r\n")
    assert "'@SUM(A1)" in text and "'-2+3" in text and "2027-01-04" in text and "'=HYPERLINK" in text
    ws = openpyxl.load_workbook(io.BytesIO(plan_export.xlsx_bytes(records, sheet_title="A/B"))).active
    row = [c.value for c in ws[2]]
    assert row[0] == 7 and row[1] == "'@SUM(A1)" and row[2] == "'-2+3" and ws.cell(row=2, column=4).is_date


def test_reopening_through_the_plan_page_uses_the_editions_answer_window(client, db, staff):
    plan_id = new_item(db, title="Emisiones contaminantes por industria")
    with db.write() as s:
        edition = m.Edition(series="idmx-2029", title_es="IDMX 2029", status=m.EditionStatus.published,
                            published_at=datetime.now().astimezone(), answer_business_days=7)
        s.add(edition)
        s.flush()
        s.add(m.InfrastructureItem(edition_id=edition.id, key=1, title="Emisiones contaminantes por industria",
                                   institution_id=institution_id(db, "SEMARNAT"), tier=1, rank=1, plan_item_id=plan_id))
    as_(client, "admin")
    assert post_form(client, f"/staff/plan/{plan_id}/deny",
                     {"legal_basis": legal_basis_id(db), "explanation": "La información no existe"}).status_code == 303
    assert post_form(client, f"/staff/plan/{plan_id}/reopen", {"note": "Se localizó"}).status_code == 303
    assert item(db, plan_id).answer_by == policy.add_business_days(clock.today(), 7)
