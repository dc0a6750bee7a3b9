"""Staff sessions and sign-in throttling without Redis are shared by every app process and survive a
restart: they live in the site's database (`idmx.web.dbstore`, `idmx.counters.SqlCounters`).

Two real `idmx serve` processes on the same database (on SQLite, the same file), as `--workers 2` or two
app processes behind nginx would be; then both stop and a third starts.
"""

from __future__ import annotations

from idmx.accounts.services import create_user
from idmx.db import models as m
from tests.live import Visitor, serve

PASSWORD = "correct horse battery"


def sign_in(visitor: Visitor, email: str, password: str = PASSWORD):
    visitor.get("/staff/login")
    return visitor.post("/staff/login", {"email": email, "password": password,
                                         "_csrf_token": visitor.http.cookies.get("idmx_csrf", "")}, htmx=False)


def move_cookies(visitor: Visitor, base: str) -> Visitor:
    """The same browser talking to another process (its cookies, another port)."""
    other = Visitor(base)
    for cookie in visitor.http.cookies.jar:
        other.http.cookies.set(cookie.name, cookie.value)
    return other


def test_a_session_started_on_one_process_works_on_another_and_after_a_restart(db, tmp_path):
    create_user(db, "central@idmx.gob.mx", PASSWORD, m.Role.central_admin, None)
    env = {"IDMX_REDIS_URL": ""}
    with serve(db.url, tmp_path, workers=1, **env) as first, serve(db.url, tmp_path, workers=1, **env) as second:
        browser = Visitor(first)
        assert sign_in(browser, "central@idmx.gob.mx").status_code == 303
        assert browser.get("/staff").status_code == 200
        elsewhere = move_cookies(browser, second)
        assert elsewhere.get("/staff").status_code == 200  # the other process knows the session
        # Signing out on the second process ends it for the first too.
        assert elsewhere.post("/staff/logout", {"_csrf_token": elsewhere.http.cookies.get("idmx_csrf", "")},
                              htmx=False).status_code == 303
        assert browser.get("/staff").status_code == 303
        assert sign_in(browser, "central@idmx.gob.mx").status_code == 303
        browser.close()
        elsewhere.close()
    with serve(db.url, tmp_path, workers=1, **env) as restarted:
        again = move_cookies(browser, restarted)
        assert again.get("/staff").status_code == 200  # still signed in after every process restarted
        again.close()


def test_sign_in_throttling_is_counted_across_processes(db, tmp_path):
    create_user(db, "central@idmx.gob.mx", PASSWORD, m.Role.central_admin, None)
    env = {"IDMX_REDIS_URL": ""}
    with serve(db.url, tmp_path, workers=1, **env) as first, serve(db.url, tmp_path, workers=1, **env) as second:
        a, b = Visitor(first), Visitor(second)
        codes = [sign_in(v, "central@idmx.gob.mx", "wrong password!").status_code for v in (a, b, a, b, a)]
        assert 429 not in codes
        # Five failures in all, split over two processes: the sixth attempt waits, on either one.
        assert sign_in(b, "central@idmx.gob.mx").status_code == 429
        a.close()
        b.close()
