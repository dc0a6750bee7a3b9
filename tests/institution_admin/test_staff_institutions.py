"""`/staff/institutions`: the central team adds institutions and marks one as succeeded by another;
forms answer their errors in place; every change is audited; nobody else may use the page."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from idmx.accounts.services import create_user
from idmx.db import models as m
from tests.accounts.test_auth import PASSWORD, login

SEEDED_LATER = "ZZPRUEBA"


@pytest.fixture
def central(client, db):
    create_user(db, "central@idmx.gob.mx", PASSWORD, m.Role.central_admin, None)
    login(client, "central@idmx.gob.mx")
    yield client
    with db.write() as s:  # institutions are reference data, which the db fixture keeps: remove ours
        s.execute(delete(m.Institution).where(m.Institution.acronym.like(f"{SEEDED_LATER}%")))


def post(client, path: str, data: dict):
    return client.post(path, data={**data, "_csrf_token": client.cookies.get("idmx_csrf")}, follow_redirects=False)


def test_the_central_team_adds_an_institution(central, db):
    r = post(central, "/staff/institutions/", {"acronym": f"{SEEDED_LATER}-1", "name_es": "Comisión de Prueba",
                                                "name_en": "Test Commission", "level": "federal", "state": ""})
    assert r.status_code == 303
    with db.read() as s:
        inst = s.scalar(select(m.Institution).where(m.Institution.acronym == f"{SEEDED_LATER}-1"))
        assert inst.name_es == "Comisión de Prueba" and inst.level == m.Level.federal
        assert s.scalar(select(m.AuditEvent.action).where(m.AuditEvent.object_id == inst.id,
                                                          m.AuditEvent.object_type == "institution")) == "institution.create"
    assert f"{SEEDED_LATER}-1" in central.get("/staff/institutions/").text


def test_errors_come_back_in_place_and_nothing_is_stored(central, db):
    r = post(central, "/staff/institutions/", {"acronym": "c!", "name_es": "", "name_en": "x", "level": "state", "state": ""})
    assert r.status_code == 422
    assert 'id="name_es-error"' in r.text and 'id="state-error"' in r.text and 'id="acronym-error"' in r.text
    assert 'aria-invalid="true"' in r.text
    r = post(central, "/staff/institutions/successor", {"institution": "", "successor": "", "dissolved_on": "ayer"})
    assert r.status_code == 422 and 'id="dissolved_on-error"' in r.text and 'id="successor-error"' in r.text
    with db.read() as s:
        ids = dict(s.execute(select(m.Institution.acronym, m.Institution.id)).all())
    # Succeeding itself, and a loop (TPP already succeeds INAI), are refused in place.
    r = post(central, "/staff/institutions/successor",
             {"institution": ids["SEP"], "successor": ids["SEP"], "dissolved_on": "2025-01-01"})
    assert r.status_code == 422 and 'id="successor-error"' in r.text
    r = post(central, "/staff/institutions/successor",
             {"institution": ids["TPP"], "successor": ids["INAI"], "dissolved_on": "2025-01-01"})
    assert r.status_code == 422 and 'id="successor-error"' in r.text


def test_marking_a_successor_keeps_the_old_institution_and_its_plans(central, db):
    post(central, "/staff/institutions/", {"acronym": f"{SEEDED_LATER}-OLD", "name_es": "Organismo extinto",
                                           "name_en": "Abolished body", "level": "federal", "state": ""})
    with db.read() as s:
        ids = dict(s.execute(select(m.Institution.acronym, m.Institution.id)).all())
    r = post(central, "/staff/institutions/successor",
             {"institution": ids[f"{SEEDED_LATER}-OLD"], "successor": ids["SEP"], "dissolved_on": "2025-06-30"})
    assert r.status_code == 303
    with db.read() as s:
        old = s.get(m.Institution, ids[f"{SEEDED_LATER}-OLD"])
        assert old.successor_id == ids["SEP"] and old.dissolved_on.isoformat() == "2025-06-30"
    row = central.get("/staff/institutions/").text.split(f'id="institution-{SEEDED_LATER}-OLD"')[1].split("</tr>")[0]
    assert "SEP" in row and "2025-06-30" in row


@pytest.mark.parametrize("role", [m.Role.institution_admin, m.Role.institution_moderator])
def test_institution_staff_may_not(client, db, role):
    create_user(db, "someone@semarnat.gob.mx", PASSWORD, role, "SEMARNAT")
    login(client, "someone@semarnat.gob.mx")
    assert client.get("/staff/institutions/").status_code == 403
    r = post(client, "/staff/institutions/", {"acronym": f"{SEEDED_LATER}-X", "name_es": "a", "name_en": "b",
                                              "level": "federal", "state": ""})
    assert r.status_code == 403


def test_an_existing_acronym_is_an_error_in_place(central):
    r = post(central, "/staff/institutions/", {"acronym": "sep", "name_es": "Otra", "name_en": "Other",
                                                "level": "federal", "state": ""})
    assert r.status_code == 422 and 'id="acronym-error"' in r.text


def test_a_form_without_its_csrf_token_is_refused(central):
    r = central.post("/staff/institutions/", data={"acronym": f"{SEEDED_LATER}-2"}, follow_redirects=False)
    assert r.status_code == 403


def test_an_abolished_institutions_plan_page_names_its_successor(client):
    """INAI was abolished by the 2025 transparency law: its plan stays under its name, with "now: TPP"."""
    r = client.get("/institutions/INAI/plan")
    assert r.status_code == 200
    notice = r.text.split('id="successor"')[1].split("</p>")[0]
    assert "/institutions/TPP/plan" in notice and "Transparencia para el Pueblo" in notice
    assert 'id="successor"' not in client.get("/institutions/INEGI/plan").text
