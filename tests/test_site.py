"""Home page, health check, templates, language."""

from pathlib import Path

import pytest
from jinja2 import TemplateSyntaxError

from idmx import seeding
from idmx.paths import templates_dir
from idmx.web.templates import jinja_environment


def test_every_template_compiles():
    env = jinja_environment()
    names = [p.relative_to(templates_dir()).as_posix() for p in Path(templates_dir()).rglob("*.html")]
    assert "base.html" in names and "site/home.html" in names
    for name in names:
        try:
            env.get_template(name)
        except TemplateSyntaxError as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"{name}:{exc.lineno}: {exc.message}")


def test_home_lists_the_demo_consultations_by_phase(client, db):
    seeding.seed_demo(db)
    response = client.get("/")
    assert response.status_code == 200
    html = response.text
    assert '<html lang="es">' in html
    assert "Consultas abiertas" in html
    open_section = html.split('id="group-open"')[1].split('id="group-upcoming"')[0]
    assert "Consulta nacional IDMX 2027" in open_section
    assert "Datos ambientales que necesitas (SEMARNAT)" in open_section
    upcoming = html.split('id="group-upcoming"')[1].split('id="group-closed"')[0]
    assert "Prioridades de información estadística (INEGI)" in upcoming
    closed = html.split('id="group-closed"')[1]
    assert "Consulta nacional IDMX 2026" in closed
    assert "3,000" in open_section  # participants, formatted for es_MX


def test_home_without_consultations_says_so(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "No hay consultas abiertas en este momento." in response.text


def test_english_by_accept_language_and_by_switcher(client, db):
    seeding.seed_demo(db)
    english = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in english.text and "Open consultations" in english.text
    assert "National IDMX consultation 2027" in english.text
    page = client.get("/")
    token = client.cookies.get("idmx_csrf")
    switched = client.post("/language", data={"lang": "en", "next": "/", "_csrf_token": token}, follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/"
    assert "Open consultations" in client.get("/").text
    assert page.status_code == 200


def test_language_switch_refuses_open_redirects_and_requires_csrf(client):
    client.get("/")
    token = client.cookies.get("idmx_csrf")
    r = client.post("/language", data={"lang": "en", "next": "//evil.example", "_csrf_token": token}, follow_redirects=False)
    assert r.headers["location"] == "/"
    no_token = client.post("/language", data={"lang": "en", "next": "/"}, follow_redirects=False)
    assert no_token.status_code == 403


def test_healthz_reports_the_database(client, db):
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["database"]["status"] == "ok"
    assert body["database"]["backend"] in ("sqlite", "postgresql")


def test_unknown_page_is_a_translated_html_404(client):
    r = client.get("/no-such-page")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    assert "No encontrado" in r.text
