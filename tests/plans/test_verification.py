"""Publication verification: the worker fetches each published address from a local HTTP server started by
the test, judges what answers, reopens items whose address broke, and the central team can reject a claim
(SQLite and PostgreSQL; the judgement itself is pure and tested without a network)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from idmx import clock, worker
from idmx.db import models as m
from idmx.verification import checks, http
from idmx.verification import services as verification
from tests.consultations.test_participation import post_form
from tests.plans.test_answers import as_, history, iso, item, new_item, staff  # noqa: F401  (fixture)

CSV = b"estacion,fecha,pm25\nMER,2027-01-01,18\nPED,2027-01-01,22\n"


class Handler(BaseHTTPRequestHandler):
    broken: set[str] = set()
    hook = None

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, content_type: str, body: bytes, **headers: str) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        if Handler.hook is not None:
            Handler.hook(self.path)
        if self.path in Handler.broken:
            return self._send(404, "text/html", b"<html>no</html>")
        routes = {
            "/aire.csv": lambda: self._send(200, "text/csv; charset=utf-8", CSV),
            "/aire.json": lambda: self._send(200, "application/json", b'{"datos": [1, 2]}'),
            "/descarga": lambda: self._send(200, "application/octet-stream", CSV),
            "/pagina": lambda: self._send(200, "text/html; charset=utf-8", b"<!DOCTYPE html><html><body>Datos</body></html>"),
            "/informe.pdf": lambda: self._send(200, "application/pdf", b"%PDF-1.7 ..."),
            "/mudado": lambda: self._send(302, "", b"", Location="/aire.csv"),
            "/bucle": lambda: self._send(302, "", b"", Location="/bucle"),
            "/error": lambda: self._send(500, "text/plain", b"fallo"),
        }
        if self.path == "/enorme.csv":
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.end_headers()
            try:
                for _ in range(2000):  # 100 MB if anybody read it all
                    self.wfile.write(b"a,b,c\n" * 8000)
            except OSError:
                pass
            return None
        if self.path == "/lento":
            time.sleep(3)
            return self._send(200, "text/csv", CSV)
        return routes.get(self.path, lambda: self._send(404, "text/plain", b"no"))()


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # The checker hangs up on slow and oversized answers on purpose; socketserver would print each
        # broken pipe to stderr from a thread that may outlive this test (into another test's output).
        pass


@pytest.fixture
def site():
    Handler.broken = set()
    Handler.hook = None
    server = QuietServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def local(settings):
    return settings.with_(verify_private_addresses=True)


# --- pure ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fetched,outcome,fmt", [
    (checks.Fetched(200, "text/csv", CSV), "ok", "csv"),
    (checks.Fetched(200, "application/json; charset=utf-8", b"{}"), "ok", "json"),
    (checks.Fetched(200, "application/octet-stream", CSV), "ok", "csv"),
    (checks.Fetched(200, "", b"PK\x03\x04rest"), "ok", "zip"),
    (checks.Fetched(200, "text/plain", b'[{"a": 1}'), "ok", "json"),
    (checks.Fetched(200, "text/html", b"<html></html>"), "not_machine_readable", "html"),
    (checks.Fetched(200, "application/octet-stream", b"<!doctype html><html>"), "not_machine_readable", "html"),
    (checks.Fetched(200, "image/png", b"\x89PNG"), "not_machine_readable", ""),
    (checks.Fetched(200, "text/plain", b"solo una linea"), "not_machine_readable", ""),
    (checks.Fetched(404, "text/csv", b""), "broken", ""),
    (checks.Fetched(None, error="timed out"), "broken", ""),
    (checks.Fetched(None, error="private", refused=True), "refused", ""),
])
def test_judgement(fetched, outcome, fmt):
    verdict = checks.judge(fetched)
    assert (verdict.outcome, verdict.data_format) == (outcome, fmt)


def test_a_broken_address_reopens_at_once_when_new_and_after_two_checks_otherwise():
    error, silence = checks.judge(checks.Fetched(404)), checks.judge(checks.Fetched(None, error="timed out"))
    assert checks.should_reopen(error, None)  # a new address answering 404
    assert not checks.should_reopen(silence, None)  # nothing answered: maybe our network; wait for the next check
    assert checks.should_reopen(silence, "broken") and checks.should_reopen(error, "broken")
    assert not checks.should_reopen(error, "ok") and not checks.should_reopen(error, "not_machine_readable")
    for other in ("not_machine_readable", "refused", "ok"):
        assert not checks.should_reopen(checks.Verdict(other), None)


# --- fetching -----------------------------------------------------------------------------------------------


def test_fetch_outcomes_against_a_local_server(site, monkeypatch):
    def verdict(path: str) -> checks.Verdict:
        return checks.judge(http.fetch(site + path, allow_private=True))

    assert (verdict("/aire.csv").outcome, verdict("/aire.json").data_format) == ("ok", "json")
    assert verdict("/descarga").data_format == "csv"
    assert verdict("/mudado") == checks.Verdict("ok", "csv")
    assert verdict("/pagina").outcome == verdict("/informe.pdf").outcome == "not_machine_readable"
    assert verdict("/no-existe").problem == "HTTP 404" and verdict("/error").problem == "HTTP 500"
    assert "redirects" in verdict("/bucle").problem
    started = time.monotonic()
    big = http.fetch(site + "/enorme.csv", allow_private=True)
    assert big.status == 200 and len(big.head) == http.HEAD_BYTES and time.monotonic() - started < 5
    monkeypatch.setattr(http, "TIMEOUT_S", 0.5)
    started = time.monotonic()
    assert verdict("/lento").outcome == "broken" and time.monotonic() - started < 2.5


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/aire.csv", "http://localhost/aire.csv", "http://10.1.2.3/x.csv", "http://192.168.0.10/x",
    "http://169.254.169.254/latest/meta-data/", "http://[::1]/x.csv", "ftp://datos.gob.mx/x.csv",
    "http://datos.gob.mx:22/x.csv",
])
def test_private_addresses_schemes_and_ports_are_refused_without_a_connection(url):
    fetched = http.fetch(url)
    assert fetched.refused and checks.judge(fetched).outcome == "refused"


def test_the_private_address_setting_is_refused_in_production():
    from idmx.settings import Settings, SettingsError

    with pytest.raises(SettingsError):
        Settings.from_env({"IDMX_ENV": "production", "IDMX_SECRET_KEY": "k" * 40, "IDMX_VERIFY_PRIVATE_ADDRESSES": "1"})


# --- the worker and the plan ------------------------------------------------------------------------------


def publish(client, item_id: int, url: str) -> None:
    assert post_form(client, f"/staff/plan/{item_id}/publish", {"url": url}).status_code == 303


def checks_of(db, item_id: int) -> list[m.PublicationCheck]:
    with db.read() as s:
        return list(s.scalars(select(m.PublicationCheck).where(m.PublicationCheck.plan_item_id == item_id)
                              .order_by(m.PublicationCheck.id)))


def test_a_published_address_is_checked_then_rechecked_and_a_broken_one_reopens_the_item(client, db, staff, site, local):  # noqa: F811
    own = new_item(db)
    as_(client, "admin")
    publish(client, own, site + "/aire.csv")
    with clock.frozen(clock.now()) as frozen:
        assert worker.check_publications(db, local) == {"ok": 1}
        assert worker.check_publications(db, local) == {}  # nothing due until the re-check
        page = client.get(f"/staff/plan/{own}")
        assert 'data-outcome="ok"' in page.text
        Handler.broken.add("/aire.csv")
        frozen.advance(timedelta(hours=local.link_recheck_hours, minutes=1))
        assert worker.check_publications(db, local) == {"broken": 1}  # one failure after success: a hiccup
        assert item(db, own).status == m.PlanStatus.published
        frozen.advance(timedelta(hours=local.link_recheck_hours, minutes=1))
        assert worker.check_publications(db, local) == {"reopened": 1}
    reopened = item(db, own)
    assert reopened.status == m.PlanStatus.pending and reopened.published_url == "" and reopened.published_on is None
    event = history(db, own)[-1]
    assert (event.kind, event.from_status, event.to_status, event.actor_id) == ("link_broken", "published", "pending", None)
    assert event.details["url"] == site + "/aire.csv" and "404" in event.details["problem"]
    assert [c.outcome for c in checks_of(db, own)] == ["ok", "broken", "broken"]
    with db.read() as s:
        told = list(s.scalars(select(m.OutboxMessage.to_email)))
    assert told == ["admin@semarnat.gob.mx"]
    public = client.get(f"/items/{own}")
    assert public.status_code == 200 and 'data-event="link_broken"' in public.text
    assert "Qué encontró la revisión del enlace" in public.text and "HTTP 404" in public.text


def test_a_new_address_that_does_not_answer_reopens_at_once_and_a_committed_item_keeps_its_date(client, db, staff, site, local):  # noqa: F811
    own = new_item(db, policy_days=None)
    as_(client, "admin")
    assert post_form(client, f"/staff/plan/{own}/commit", {"due_date": iso(14)}).status_code == 303
    publish(client, own, site + "/no-existe.csv")
    assert worker.check_publications(db, local) == {"reopened": 1}
    assert item(db, own).status == m.PlanStatus.committed and item(db, own).due_date is not None


def test_a_web_page_stays_published_for_the_central_team_to_judge(client, db, staff, site, local):  # noqa: F811
    own = new_item(db)
    as_(client, "admin")
    publish(client, own, site + "/pagina")
    assert worker.check_publications(db, local) == {"not_machine_readable": 1}
    assert item(db, own).status == m.PlanStatus.published
    assert post_form(client, f"/staff/plan/{own}/reject", {"reason": "Es una página"}).status_code == 403
    as_(client, "central")
    empty = post_form(client, f"/staff/plan/{own}/reject", {"reason": "  "})
    assert empty.status_code == 422 and 'id="reason-error"' in empty.text
    r = post_form(client, f"/staff/plan/{own}/reject", {"reason": "Una página web no es un conjunto de datos."})
    assert r.status_code == 303 and r.headers["location"].endswith("?saved=reject")
    rejected = item(db, own)
    assert rejected.status == m.PlanStatus.pending and rejected.published_url == ""
    event = history(db, own)[-1]
    assert event.kind == "publication_rejected" and event.details["reason"] == "Una página web no es un conjunto de datos."
    with db.read() as s:
        audit = s.scalar(select(m.AuditEvent).where(m.AuditEvent.action == "plan_item.publication_rejected"))
        assert audit.actor_id == staff["central"]
        assert list(s.scalars(select(m.OutboxMessage.to_email))) == ["admin@semarnat.gob.mx"]
    again = post_form(client, f"/staff/plan/{own}/reject", {"reason": "Otra vez"})
    assert again.status_code == 409  # nothing published to reject any more
    public = client.get(f"/items/{own}")
    assert "Por qué se rechazó la publicación" in public.text and "Una página web no es un conjunto de datos." in public.text


def test_a_result_for_an_address_changed_meanwhile_is_dropped(client, db, staff, site, local):  # noqa: F811
    own = new_item(db)
    as_(client, "admin")
    publish(client, own, site + "/aire.csv")
    stale = http.fetch(site + "/aire.csv", allow_private=True)
    publish(client, own, site + "/aire.json")  # corrected while the first fetch was under way
    assert verification.store_result(db, own, site + "/aire.csv", stale) is None
    assert checks_of(db, own) == []
    assert worker.check_publications(db, local) == {"ok": 1}
    assert checks_of(db, own)[0].url == site + "/aire.json" and checks_of(db, own)[0].data_format == "json"


def test_no_transaction_is_open_while_the_address_is_fetched(client, db, staff, site, local):  # noqa: F811
    own = new_item(db)
    as_(client, "admin")
    publish(client, own, site + "/aire.csv")
    waited: list[float] = []

    def writer(path: str) -> None:
        started = time.monotonic()
        with db.write() as s:
            s.add(m.OutboxMessage(to_email="x@example.mx", subject="s", body="b"))
        waited.append(time.monotonic() - started)

    Handler.hook = writer
    assert worker.check_publications(db, local) == {"ok": 1}
    assert waited and waited[0] < 1.0


def test_without_the_setting_a_local_address_is_refused_not_broken(client, db, staff, site, settings):  # noqa: F811
    own = new_item(db)
    as_(client, "admin")
    publish(client, own, site + "/aire.csv")
    assert worker.check_publications(db, settings) == {"refused": 1}
    assert item(db, own).status == m.PlanStatus.published
