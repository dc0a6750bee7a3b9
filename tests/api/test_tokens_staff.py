"""API tokens: the staff page (/staff/api-tokens) and the `idmx token` command."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from idmx import clock
from idmx.accounts.services import create_user
from idmx.apitokens import services as tokens
from idmx.cli import main
from idmx.db import models as m
from tests.accounts.test_auth import PASSWORD, login
from tests.api.world import World, auth
from tests.consultations.test_participation import post_form

PAGE = "/staff/api-tokens"
TOKEN_RE = re.compile(r'id="token-value"[^>]*value="(idmx_[A-Za-z0-9_-]+)"')


@pytest.fixture
def staff(db):
    return {
        "central": create_user(db, "central@idmx.gob.mx", PASSWORD, m.Role.central_admin, None),
        "admin": create_user(db, "admin@semarnat.gob.mx", PASSWORD, m.Role.institution_admin, "SEMARNAT"),
        "moderator": create_user(db, "mod@semarnat.gob.mx", PASSWORD, m.Role.institution_moderator, "SEMARNAT"),
        "other": create_user(db, "admin@inegi.gob.mx", PASSWORD, m.Role.institution_admin, "INEGI"),
    }


def _tokens(db) -> list[m.ApiToken]:
    with db.read() as s:
        return list(s.scalars(select(m.ApiToken).order_by(m.ApiToken.id)))


def _audit(db, action: str) -> list[m.AuditEvent]:
    with db.read() as s:
        return list(s.scalars(select(m.AuditEvent).where(m.AuditEvent.action == action)))


def test_institution_admin_creates_sees_once_uses_and_revokes(client, db, staff, world: World):
    assert login(client, "admin@semarnat.gob.mx").status_code == 303
    listing = client.get(PAGE)
    assert listing.status_code == 200
    assert "Catálogo SEMARNAT" in listing.text and "Catálogo INEGI" not in listing.text
    assert 'name="institution"' not in listing.text  # an institution creates tokens for itself only
    r = post_form(client, PAGE, {"name": "  Publicador   de datos "})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    token = TOKEN_RE.search(r.text).group(1)
    row = _tokens(db)[-1]
    assert row.name == "Publicador de datos" and row.institution_id == world.inst["SEMARNAT"]
    assert row.token_hash == tokens.hash_token(token) and row.created_by == staff["admin"]
    (created,) = _audit(db, "api_token.create")[-1:]
    assert created.actor_id == staff["admin"] and token not in str(created.after)
    # Shown once: the list never shows it again.
    assert token not in client.get(PAGE).text
    due = (clock.today() + timedelta(days=9)).isoformat()
    use = client.post(f"/api/v1/plan-items/{world.plan['aire']}/commit", json={"due_date": due}, headers=auth(token))
    assert use.status_code == 200
    r = post_form(client, f"{PAGE}/revoke", {"token_id": str(row.id)})
    assert r.status_code == 303 and r.headers["location"] == PAGE
    assert _tokens(db)[-1].revoked_at is not None
    (revoked,) = _audit(db, "api_token.revoke")
    assert revoked.actor_id == staff["admin"] and revoked.object_id == row.id
    again = client.post(f"/api/v1/plan-items/{world.plan['aire']}/commit", json={"due_date": due}, headers=auth(token))
    assert again.status_code == 401


def test_institution_admin_cannot_touch_another_institutions_token(client, db, staff, world: World):
    login(client, "admin@inegi.gob.mx")
    r = post_form(client, f"{PAGE}/revoke", {"token_id": str(world.token_id)})
    assert r.status_code == 404
    assert next(t for t in _tokens(db) if t.id == world.token_id).revoked_at is None
    r = post_form(client, PAGE, {"name": "Mío", "institution": str(world.inst["SEMARNAT"])})
    assert r.status_code == 200 and _tokens(db)[-1].institution_id == world.inst["INEGI"]  # the field is ignored


def test_form_errors_are_shown_in_place_and_nothing_is_stored(client, db, staff, world: World):
    login(client, "central@idmx.gob.mx")
    before = len(_tokens(db))
    r = post_form(client, PAGE, {"name": "", "institution": str(world.inst["INEGI"])})
    assert r.status_code == 422 and 'id="name-error"' in r.text
    r = post_form(client, PAGE, {"name": "Sin institución", "institution": ""})
    assert r.status_code == 422 and 'id="institution-error"' in r.text
    r = post_form(client, PAGE, {"name": "x" * 101, "institution": str(world.inst["INEGI"])})
    assert r.status_code == 422 and 'id="name-error"' in r.text
    r = post_form(client, f"{PAGE}/revoke", {"token_id": ""})
    assert r.status_code == 422 and 'id="token_id-error"' in r.text
    assert len(_tokens(db)) == before


def test_central_admin_sees_all_and_creates_for_any_institution(client, db, staff, world: World):
    login(client, "central@idmx.gob.mx")
    page = client.get(PAGE).text
    assert "Catálogo SEMARNAT" in page and "Catálogo INEGI" in page
    r = post_form(client, PAGE, {"name": "Central para INEGI", "institution": str(world.inst["INEGI"])})
    assert r.status_code == 200 and TOKEN_RE.search(r.text)
    assert _tokens(db)[-1].institution_id == world.inst["INEGI"] and _tokens(db)[-1].created_by == staff["central"]
    r = post_form(client, f"{PAGE}/revoke", {"token_id": str(world.token_id)})
    assert r.status_code == 303


def test_moderators_and_anonymous_cannot_use_the_page(client, db, staff, world: World):
    r = client.get(PAGE, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/staff/login")
    login(client, "mod@semarnat.gob.mx")
    assert client.get(PAGE).status_code == 403
    assert post_form(client, PAGE, {"name": "x"}).status_code == 403
    assert post_form(client, f"{PAGE}/revoke", {"token_id": str(world.token_id)}).status_code == 403


def test_cli_creates_and_revokes_tokens(db, monkeypatch, world: World):
    monkeypatch.setenv("IDMX_DATABASE_URL", db.url)
    runner = CliRunner()
    result = runner.invoke(main, ["token", "create", "--institution", "inegi", "--name", "Carga nocturna"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    row = _tokens(db)[-1]
    assert token.startswith("idmx_") and row.token_hash == tokens.hash_token(token) and row.created_by is None
    assert tokens.authenticate(db, token) is not None
    result = runner.invoke(main, ["token", "revoke", str(row.id)])
    assert result.exit_code == 0, result.output
    assert tokens.authenticate(db, token) is None
    assert {e.action for e in _audit(db, "api_token.create") + _audit(db, "api_token.revoke")} == {
        "api_token.create", "api_token.revoke"}
    bad = runner.invoke(main, ["token", "create", "--institution", "NOPE", "--name", "x"])
    assert bad.exit_code != 0 and "NOPE" in bad.output
    missing = runner.invoke(main, ["token", "revoke", "999999"])
    assert missing.exit_code != 0
