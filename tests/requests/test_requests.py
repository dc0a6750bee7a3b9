"""Data requests through HTTP, on SQLite and PostgreSQL: the public form and list, and the central team's queue.

Assertions use status codes, the database and stable markup (data- attributes, `aria-invalid`), not
translated text; reasons and notes are stored data, written in Spanish on purpose.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from idmx import clock
from idmx.db import models as m
from idmx.plans import policy
from tests import factories as f
from tests.consultations.test_participation import csrf, post_form
from tests.staff.test_moderation import as_, institution_id, staff  # noqa: F401 - the fixture is used by name

VALID = {
    "kind": "new_dataset",
    "title": "Padrón de beneficiarios de programas sociales",
    "description": "Por municipio y programa, cada trimestre.",
    "intended_use": "Comparar la cobertura entre municipios.",
    "institution": "unknown",
    "segment": "",
}


def count(db, model) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def one_request(db) -> m.DataRequest:
    with db.read() as s:
        return s.scalars(select(m.DataRequest)).one()


def submit(client, **changes):
    return post_form(client, "/requests/new", {**VALID, **changes})


@pytest.fixture
def received(client, db) -> int:
    r = submit(client)
    assert r.status_code == 303
    return one_request(db).id


# --- the public form ---------------------------------------------------------------------------------


def test_anyone_submits_a_request_and_nothing_personal_is_stored(client, db):
    assert client.get("/requests/new").status_code == 200
    segment = None
    with db.read() as s:
        segment = s.scalar(select(m.Segment.id).order_by(m.Segment.sort_order).limit(1))
    inegi = institution_id(db, "INEGI")
    r = submit(client, institution=str(inegi), segment=str(segment))
    assert r.status_code == 303
    req = one_request(db)
    assert r.headers["location"] == f"/requests/{req.id}?created=1"
    assert (req.kind, req.title, req.status) == (
        m.DataRequestKind.new_dataset, VALID["title"], m.DataRequestStatus.received)
    assert (req.suggested_institution_id, req.segment_id, req.about_item_id) == (inegi, segment, None)
    assert "idmx_respondent" not in r.headers.get("set-cookie", "")
    columns = {c.name for c in m.DataRequest.__table__.columns}
    assert not columns & {"ip", "client_ip", "token_hash", "email", "respondent_id"}
    page = client.get(r.headers["location"])
    assert page.status_code == 200 and VALID["title"] in page.text and 'data-status="received"' in page.text
    listing = client.get("/requests")
    assert listing.status_code == 200 and f'data-request="{req.id}"' in listing.text


@pytest.mark.parametrize("changes, field", [
    ({"title": "abc"}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"description": "d" * 4001}, "description"),
    ({"kind": "something"}, "kind"),
    ({"institution": "999999"}, "institution"),
    ({"segment": "nope"}, "segment"),
    ({"kind": "problem"}, "about"),  # a problem must name the published dataset
    ({"kind": "problem", "about": "123456"}, "about"),  # ... among the published ones
])
def test_invalid_fields_are_shown_in_place_with_422_and_nothing_is_stored(client, db, changes, field):
    r = submit(client, **changes)
    assert r.status_code == 422
    assert f'id="{field}-error"' in r.text
    assert count(db, m.DataRequest) == 0


def test_the_form_keeps_what_was_typed_after_an_error(client, db):
    r = submit(client, title="abc", description="Lo que escribí")
    assert r.status_code == 422 and "Lo que escribí" in r.text and 'aria-invalid="true"' in r.text


def test_the_honeypot_refuses_bots(client, db):
    r = submit(client, website="http://spam.example")
    assert r.status_code == 422 and 'id="form-errors"' in r.text
    assert count(db, m.DataRequest) == 0


def test_a_request_without_csrf_token_is_refused(client, db):
    csrf(client)
    r = client.post("/requests/new", data=VALID, follow_redirects=False)
    assert r.status_code == 403 and count(db, m.DataRequest) == 0


def test_a_problem_report_names_a_published_dataset_and_can_be_prefilled(client, db):
    f.published_edition(db, ["Calidad del aire por estación de monitoreo"])
    with db.write() as s:
        item = s.scalars(select(m.PlanItem)).one()
        item.status, item.published_on = m.PlanStatus.published, item.assigned_on
        item.published_url = "https://datos.gob.mx/aire"
        item_id = item.id
    form = client.get(f"/requests/new?about={item_id}")
    assert form.status_code == 200
    assert 'value="problem" checked' in form.text and f'<option value="{item_id}" selected' in form.text
    r = submit(client, kind="problem", about=str(item_id), title="El archivo de calidad del aire no abre")
    assert r.status_code == 303
    req = one_request(db)
    assert (req.kind, req.about_item_id) == (m.DataRequestKind.problem, item_id)
    assert f'href="/items/{item_id}"' in client.get(f"/requests/{req.id}").text


def test_an_unpublished_item_cannot_be_the_subject_of_a_problem(client, db):
    f.published_edition(db, ["Calidad del aire por estación de monitoreo"])  # pending, not published
    with db.read() as s:
        item_id = s.scalar(select(m.PlanItem.id))
    r = submit(client, kind="problem", about=str(item_id))
    assert r.status_code == 422 and count(db, m.DataRequest) == 0


def test_unknown_request_is_404(client, db):
    assert client.get("/requests/999999").status_code == 404


def test_public_list_filters_by_status_and_paginates(client, db):
    with db.write() as s:
        for n in range(25):
            s.add(m.DataRequest(kind=m.DataRequestKind.new_dataset, title=f"Solicitud número {n:02d}"))
    first = client.get("/requests")
    assert first.status_code == 200
    assert first.text.count('data-request="') == 20 and "Solicitud número 24" in first.text  # newest first
    second = client.get("/requests?page=2")
    assert second.text.count('data-request="') == 5 and "Solicitud número 00" in second.text
    assert client.get("/requests?status=rejected").text.count('data-request="') == 0
    fragment = client.get("/requests?status=received", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text and 'id="request-list"' in fragment.text


# --- the central team --------------------------------------------------------------------------------


def test_only_central_administrators_reach_the_queue(client, db, staff, received):  # noqa: F811
    r = client.get("/staff/requests", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/staff/login")
    as_(client, "admin")
    assert client.get("/staff/requests").status_code == 403
    assert client.get(f"/staff/requests/{received}").status_code == 403
    semarnat = institution_id(db, "SEMARNAT")
    r = post_form(client, f"/staff/requests/{received}/route", {"institution": semarnat})
    assert r.status_code == 403 and one_request(db).status == m.DataRequestStatus.received
    as_(client, "moderator")
    assert client.get("/staff/requests").status_code == 403
    as_(client, "central")
    r = client.get("/staff/requests")
    assert r.status_code == 200 and f'data-request="{received}"' in r.text


def test_routing_creates_the_plan_item_in_one_step(client, db, staff, received):  # noqa: F811
    as_(client, "central")
    semarnat = institution_id(db, "SEMARNAT")
    assert client.get(f"/staff/requests/{received}").status_code == 200
    r = post_form(client, f"/staff/requests/{received}/route",
                  {"institution": semarnat, "note": "Corresponde a SEMARNAT"})
    assert r.status_code == 303
    req = one_request(db)
    assert req.status == m.DataRequestStatus.routed and req.reviewed_by == staff["central"] and req.reviewed_at
    with db.read() as s:
        item = s.get(m.PlanItem, req.plan_item_id)
        events = list(s.scalars(select(m.PlanEvent).where(m.PlanEvent.plan_item_id == item.id)))
        audit = list(s.scalars(select(m.AuditEvent).where(m.AuditEvent.action == "data_request.route")))
    today = clock.today()
    assert (item.institution_id, item.source, item.title, item.status) == (
        semarnat, m.PlanSource.request, VALID["title"], m.PlanStatus.pending)
    assert item.description == VALID["description"]
    assert item.assigned_on == today and item.answer_by == policy.add_business_days(today, 20)
    assert item.policy_due is None
    assert [e.kind for e in events] == ["created"]
    assert events[0].details["source"] == "request" and events[0].details["note"] == "Corresponde a SEMARNAT"
    assert len(audit) == 1 and audit[0].actor_id == staff["central"] and audit[0].object_id == req.id
    listing = client.get("/requests?status=routed")
    assert f'href="/items/{item.id}"' in listing.text
    assert f'href="/items/{item.id}"' in client.get(f"/requests/{req.id}").text


def test_rejecting_needs_a_reason_which_the_public_sees(client, db, staff, received):  # noqa: F811
    as_(client, "central")
    r = post_form(client, f"/staff/requests/{received}/reject", {"reason": "   "})
    assert r.status_code == 422 and 'id="reason-error"' in r.text
    assert one_request(db).status == m.DataRequestStatus.received
    r = post_form(client, f"/staff/requests/{received}/reject", {"reason": "Ya se publica en datos.gob.mx/padron"})
    assert r.status_code == 303
    req = one_request(db)
    assert (req.status, req.rejection_reason, req.plan_item_id) == (
        m.DataRequestStatus.rejected, "Ya se publica en datos.gob.mx/padron", None)
    with db.read() as s:
        audit = s.scalars(select(m.AuditEvent).where(m.AuditEvent.action == "data_request.reject")).one()
    assert audit.actor_id == staff["central"] and audit.after["rejection_reason"] == req.rejection_reason
    public = client.get("/requests")
    assert "Ya se publica en datos.gob.mx/padron" in public.text and 'data-status="rejected"' in public.text
    assert "Ya se publica en datos.gob.mx/padron" in client.get(f"/requests/{req.id}").text


def test_routing_needs_a_known_institution(client, db, staff, received):  # noqa: F811
    as_(client, "central")
    for value in ("", "999999", "abc"):
        r = post_form(client, f"/staff/requests/{received}/route", {"institution": value})
        assert r.status_code == 422 and 'id="institution-error"' in r.text
    assert one_request(db).status == m.DataRequestStatus.received and count(db, m.PlanItem) == 0


@pytest.mark.parametrize("first, second", [("route", "route"), ("route", "reject"), ("reject", "route"),
                                           ("reject", "reject")])
def test_acting_twice_is_a_conflict_and_changes_nothing(client, db, staff, received, first, second):  # noqa: F811
    as_(client, "central")
    forms = {"route": {"institution": institution_id(db, "SEMARNAT")}, "reject": {"reason": "Duplicada"}}
    assert post_form(client, f"/staff/requests/{received}/{first}", forms[first]).status_code == 303
    before = one_request(db)
    items, audits = count(db, m.PlanItem), count(db, m.AuditEvent)
    other = {"route": {"institution": institution_id(db, "INEGI")}, "reject": {"reason": "Otra razón"}}
    r = post_form(client, f"/staff/requests/{received}/{second}", other[second])
    assert r.status_code == 409
    after = one_request(db)
    assert (after.status, after.plan_item_id, after.rejection_reason, after.reviewed_at) == (
        before.status, before.plan_item_id, before.rejection_reason, before.reviewed_at)
    assert (count(db, m.PlanItem), count(db, m.AuditEvent)) == (items, audits)
    # an invalid second form is still a conflict, not a form error
    assert post_form(client, f"/staff/requests/{received}/{second}", {}).status_code == 409


def test_the_service_refuses_a_second_decision_even_when_the_page_was_stale(db, staff, received):  # noqa: F811
    """Two staff members open the same request; the second decision loses and rolls back its plan item."""
    from idmx.accounts.services import load_principal
    from idmx.errors import Conflict
    from idmx.requests import services

    me = load_principal(db, staff["central"])
    services.route(db, me, received, institution_id(db, "SEMARNAT"))
    with pytest.raises(Conflict):
        services.route(db, me, received, institution_id(db, "INEGI"))
    with pytest.raises(Conflict):
        services.reject(db, me, received, "Tarde")
    assert count(db, m.PlanItem) == 1


def test_actions_on_an_unknown_request_are_404(client, db, staff):  # noqa: F811
    as_(client, "central")
    assert client.get("/staff/requests/999999").status_code == 404
    assert post_form(client, "/staff/requests/999999/reject", {"reason": "x"}).status_code == 404


def test_requests_are_rate_limited_like_proposals(settings, db):
    from litestar.testing import TestClient

    from idmx.app import create_app

    app = create_app(settings.with_(proposals_per_hour=2), db=db)
    with TestClient(app=app) as client:
        codes = [submit(client, title=f"Solicitud número {i}").status_code for i in range(3)]
    assert codes == [303, 303, 429] and count(db, m.DataRequest) == 2
