"""Security headers on every family of routes: pages, fragments, errors, downloads, the API, static files,
staff pages (never cached), and the API's documentation page (the one page allowed an inline script)."""

from __future__ import annotations

import re

import pytest

from idmx.accounts.services import create_user
from idmx.db import models as m
from tests import factories as f
from tests.accounts.test_auth import PASSWORD, login

COMMON = {
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


def _directives(csp: str) -> dict[str, str]:
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else "" for part in re.split(r";\s*", csp) if part}


def _check(r, *, docs: bool = False) -> None:
    for name, value in COMMON.items():
        assert r.headers.get(name) == value, (r.request.url, name, r.headers.get(name))
    csp = _directives(r.headers["content-security-policy"])
    assert csp["default-src"] == "'self'" and csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert "'unsafe-eval'" not in csp["script-src"]
    assert ("'unsafe-inline'" in csp["script-src"]) is docs, r.request.url


@pytest.fixture
def world(db):
    c = f.consultation(db, "aire")
    (pid,) = f.proposals(db, c.id, ["Calidad del aire"])
    create_user(db, "mod@semarnat.gob.mx", PASSWORD, m.Role.institution_moderator, "SEMARNAT")
    return c, pid


def test_every_route_family_sends_the_security_headers(client, world):
    c, pid = world
    public = ["/", f"/c/{c.slug}/", f"/c/{c.slug}/proposals/{pid}", f"/c/{c.slug}/results", "/idmx", "/monitoring",
              "/monitoring.csv", "/institutions/plans.csv", "/requests", "/static/css/idmx.css",
              "/api/v1/consultations", "/api/docs/openapi.json", "/readyz", "/livez", "/no-such-page",
              "/api/v1/no-such-thing", "/staff/login"]
    for path in public:
        r = client.get(path)
        assert r.status_code < 500, (path, r.status_code)
        _check(r)
    fragment = client.get(f"/c/{c.slug}/", headers={"HX-Request": "true"})
    _check(fragment)
    refused = client.post("/language", data={"lang": "en"})  # no CSRF token: 403, with the headers too
    assert refused.status_code == 403
    _check(refused)
    _check(client.get("/api/docs"), docs=True)


def test_staff_pages_are_never_cached_and_cannot_be_framed(client, world):
    assert login(client, "mod@semarnat.gob.mx").status_code == 303
    for path, status in (("/staff/", 200), ("/staff/moderation/", 200), ("/staff/password", 200),
                         ("/staff/api-tokens", 403)):  # a moderator may not manage tokens: refused, same headers
        r = client.get(path)
        assert r.status_code == status, path
        _check(r)
        assert r.headers["cache-control"] == "no-store"
    public = client.get("/")
    assert public.headers.get("cache-control") != "no-store"


def test_pages_carry_no_inline_script_or_style_the_policy_would_block(client, world):
    c, pid = world
    for path in ("/", f"/c/{c.slug}/", f"/c/{c.slug}/proposals/{pid}", "/staff/login"):
        html = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert not re.search(r"<style|\sstyle=\"|\son[a-z]+=\"", html), path
        assert '"includeIndicatorStyles":false' in html and '"allowEval":false' in html
