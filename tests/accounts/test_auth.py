"""Staff sign-in: hashed passwords, session rotation at login, throttling, guards."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient
from sqlalchemy import select

from idmx.accounts import sessions
from idmx.accounts.services import create_user, demo_sign_ins
from idmx.cli import main
from idmx.db import models as m

PASSWORD = "correct horse battery"


def plant(client: TestClient, value: str) -> None:
    client.cookies.delete(sessions.COOKIE)
    client.cookies.set(sessions.COOKIE, value, domain="testserver.local")


def login(client: TestClient, email: str, password: str = PASSWORD):
    client.get("/staff/login")
    token = client.cookies.get("idmx_csrf")
    return client.post("/staff/login", data={"email": email, "password": password, "_csrf_token": token},
                       follow_redirects=False)


@pytest.fixture
def staff(db):
    return {
        "central": create_user(db, "central@idmx.gob.mx", PASSWORD, m.Role.central_admin, None),
        "admin": create_user(db, "admin@semarnat.gob.mx", PASSWORD, m.Role.institution_admin, "SEMARNAT"),
        "moderator": create_user(db, "mod@semarnat.gob.mx", PASSWORD, m.Role.institution_moderator, "SEMARNAT"),
    }


def test_createuser_command_stores_only_an_argon2id_hash(db, monkeypatch):
    monkeypatch.setenv("IDMX_DATABASE_URL", db.url)
    runner = CliRunner()
    result = runner.invoke(main, ["createuser", "--email", "Nueva@INEGI.gob.mx", "--role", "institution_admin",
                                  "--institution", "inegi"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    with db.read() as s:
        user = s.scalar(select(m.StaffUser).where(m.StaffUser.email == "nueva@inegi.gob.mx"))
    assert user is not None and user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    with db.read() as s:
        event = s.scalar(select(m.AuditEvent).where(m.AuditEvent.action == "staff.create"))
    assert event is not None and PASSWORD not in str(event.after)
    bad = runner.invoke(main, ["createuser", "--email", "x@y.mx", "--role", "institution_admin"], input="abcdefghijkl\nabcdefghijkl\n")
    assert bad.exit_code != 0 and "institution staff need --institution" in bad.output


def test_sign_in_reaches_the_workspace_and_sign_out_ends_the_session(client, staff):
    r = login(client, "ADMIN@semarnat.gob.mx")
    assert r.status_code == 303 and r.headers["location"] == "/staff"
    page = client.get("/staff/")
    assert page.status_code == 200 and "SEMARNAT" in page.text
    sid = client.cookies.get(sessions.COOKIE)
    client.post("/staff/logout", data={"_csrf_token": client.cookies.get("idmx_csrf")}, follow_redirects=False)
    plant(client, sid)  # even a kept copy of the cookie is worthless now
    assert client.get("/staff/", follow_redirects=False).status_code == 303


def test_wrong_password_and_unknown_account_look_the_same(client, staff):
    wrong = login(client, "admin@semarnat.gob.mx", "not the password")
    unknown = login(client, "nobody@semarnat.gob.mx", "not the password")
    assert wrong.status_code == unknown.status_code == 400
    assert "no es correcto" in wrong.text and sessions.COOKIE not in wrong.cookies


def test_a_session_cookie_planted_before_login_is_worthless_after_it(app, staff):
    # The attacker signs in with their own account and plants that session id in the victim's browser.
    with TestClient(app=app) as attacker:
        login(attacker, "mod@semarnat.gob.mx")
        planted = attacker.cookies.get(sessions.COOKIE)
        assert attacker.get("/staff/", follow_redirects=False).status_code == 200
        with TestClient(app=app) as victim:
            plant(victim, planted)
            login(victim, "central@idmx.gob.mx")
            issued = victim.cookies.get(sessions.COOKIE)
            assert issued and issued != planted
            assert "Equipo central" in victim.get("/staff/").text
        # The planted id grants nothing any more, neither the victim's session nor the attacker's.
        plant(attacker, planted)
        assert attacker.get("/staff/", follow_redirects=False).status_code == 303
    with TestClient(app=app) as other:
        plant(other, "chosen-by-the-attacker")
        login(other, "admin@semarnat.gob.mx")
        assert other.cookies.get(sessions.COOKIE) != "chosen-by-the-attacker"


def test_login_is_throttled_per_account(client, staff):
    codes = [login(client, "admin@semarnat.gob.mx", "wrong password!").status_code for _ in range(5)]
    assert codes == [400] * 5
    blocked = login(client, "admin@semarnat.gob.mx")  # even the right password waits
    assert blocked.status_code == 429 and "Demasiados intentos" in blocked.text
    assert sessions.COOKIE not in blocked.cookies


def test_login_is_throttled_per_address_across_accounts(client, staff):
    codes = [login(client, f"nobody{i}@example.mx", "wrong password!").status_code for i in range(5)]
    assert codes == [400] * 5
    assert login(client, "central@idmx.gob.mx").status_code == 429


def test_anonymous_staff_pages_redirect_to_sign_in(client):
    r = client.get("/staff/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/staff/login?next=/staff"
    r = client.get("/staff/", headers={"HX-Request": "true"}, follow_redirects=False)
    assert r.status_code == 401 and r.headers["HX-Redirect"].startswith("/staff/login")


def test_password_change(client, staff):
    login(client, "mod@semarnat.gob.mx")
    token = client.cookies.get("idmx_csrf")
    r = client.post("/staff/password", data={"current": "wrong", "new": "short", "_csrf_token": token})
    assert r.status_code == 422 and "no es correcta" in r.text and "al menos 10 caracteres" in r.text
    r = client.post("/staff/password", data={"current": PASSWORD, "new": "a much better passphrase", "_csrf_token": token})
    assert r.status_code == 200 and "Se cambió tu contraseña" in r.text
    assert login(client, "mod@semarnat.gob.mx", "a much better passphrase").status_code == 303


def test_a_password_change_rotates_this_session_and_ends_every_other(app, staff):
    with TestClient(app=app) as laptop, TestClient(app=app) as phone:
        assert login(laptop, "mod@semarnat.gob.mx").status_code == 303
        assert login(phone, "mod@semarnat.gob.mx").status_code == 303
        before = laptop.cookies.get(sessions.COOKIE)
        r = laptop.post("/staff/password", data={"current": PASSWORD, "new": "a much better passphrase",
                                                 "_csrf_token": laptop.cookies.get("idmx_csrf")})
        assert r.status_code == 200
        after = laptop.cookies.get(sessions.COOKIE)
        assert after and after != before  # a new session id for the browser that changed it
        assert laptop.get("/staff/", follow_redirects=False).status_code == 200
        assert phone.get("/staff/", follow_redirects=False).status_code == 303  # signed out at once
        plant(laptop, before)
        assert laptop.get("/staff/", follow_redirects=False).status_code == 303  # the old id is worthless
        # A wrong current password changes nothing, and ends nothing.
        assert login(phone, "mod@semarnat.gob.mx", "a much better passphrase").status_code == 303
        r = phone.post("/staff/password", data={"current": "wrong", "new": "yet another passphrase",
                                                "_csrf_token": phone.cookies.get("idmx_csrf")})
        assert r.status_code == 422 and phone.get("/staff/", follow_redirects=False).status_code == 200


def test_sign_out_everywhere_ends_every_session_of_the_account_only(app, staff, db):
    with TestClient(app=app) as laptop, TestClient(app=app) as phone, TestClient(app=app) as colleague:
        for browser, email in ((laptop, "mod@semarnat.gob.mx"), (phone, "mod@semarnat.gob.mx"),
                               (colleague, "admin@semarnat.gob.mx")):
            assert login(browser, email).status_code == 303
        assert "Cerrar sesión en todas partes" in phone.get("/staff/password").text
        r = phone.post("/staff/sessions/end", data={"_csrf_token": phone.cookies.get("idmx_csrf")},
                       follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/staff/login"
        assert laptop.get("/staff/", follow_redirects=False).status_code == 303
        assert phone.get("/staff/", follow_redirects=False).status_code == 303
        assert colleague.get("/staff/", follow_redirects=False).status_code == 200
        assert login(laptop, "mod@semarnat.gob.mx").status_code == 303  # signing in again works
        assert laptop.get("/staff/", follow_redirects=False).status_code == 200
    with db.read() as s:
        assert s.scalar(select(m.AuditEvent.id).where(m.AuditEvent.action == "staff.sign_out_everywhere")) is not None


def test_demo_sign_ins_work_once_and_change_on_every_start(app, db):
    first = demo_sign_ins(db)
    assert [role for role, _e, _p in first] == list(m.Role)
    with TestClient(app=app) as browser:
        for _role, email, password in first:
            assert login(browser, email, password).status_code == 303
            assert browser.get("/staff/", follow_redirects=False).status_code == 200
    again = demo_sign_ins(db)
    with TestClient(app=app) as browser:
        assert login(browser, first[0][1], first[0][2]).status_code == 400  # the old password is gone
        assert login(browser, again[0][1], again[0][2]).status_code == 303
