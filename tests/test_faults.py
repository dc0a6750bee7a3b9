"""Faults injected into a running `idmx serve` (`tests.faults`): each test asserts the status, a time bound
and that nothing acknowledged was lost (and nothing refused was kept)."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from idmx.db import Database
from idmx.db import models as m
from idmx.db.engine import WRITE_WAIT_S
from idmx.web.timeouts import BODY_TIMEOUT_S
from tests import factories as f
from tests.api.world import auth
from tests.api.world import build as build_world
from tests.faults import TcpProxy, fill, small_tmpfs, sqlite_lock_held
from tests.live import Visitor, serve


def _voted(db: Database, consultation_id: int) -> set[int]:
    with db.read() as s:
        return set(s.scalars(select(m.Vote.proposal_id).where(m.Vote.consultation_id == consultation_id)))


def _vote(visitor: Visitor, slug: str, pid: int) -> tuple[int, int, float, str | None, str]:
    started = time.monotonic()
    r = visitor.post(f"/c/{slug}/proposals/{pid}/vote", {"support": "1"})
    return pid, r.status_code, time.monotonic() - started, r.headers.get("retry-after"), r.text


def _refusals_in_log(tmp_path: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in tmp_path.glob("server-*.log"))


# --- PostgreSQL goes away and comes back ----------------------------------------------------------------


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgres_cut_and_restored_answers_503_at_once_and_recovers_by_itself(db, tmp_path):
    url = make_url(db.url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    c = f.consultation(db)
    ids = f.proposals(db, c.id, [f"Conjunto de datos {k}" for k in range(400)])
    results: list[tuple[int, int, float, str | None, str]] = []
    stop = threading.Event()
    try:
        with serve(proxied, tmp_path) as base:
            visitors = [Visitor(base) for _ in range(4)]
            for v in visitors:
                assert v.get(f"/c/{c.slug}/").status_code == 200

            def voting(i: int) -> None:
                for pid in ids[i::4]:
                    if stop.is_set():
                        return
                    results.append(_vote(visitors[i], c.slug, pid))
                    time.sleep(0.1)

            threads = [threading.Thread(target=voting, args=(i,)) for i in range(4)]
            for t in threads:
                t.start()
            time.sleep(1.5)
            proxy.cut()
            time.sleep(3)
            started = time.monotonic()
            page = visitors[0].get(f"/c/{c.slug}/")
            page_s = time.monotonic() - started
            live, ready = visitors[0].get("/livez"), visitors[0].get("/readyz")
            proxy.restore()
            restored = time.monotonic()
            deadline = restored + 30
            while time.monotonic() < deadline and not any(s == 200 and t > 0 for _p, s, t, _r, _x in results[-4:]):
                time.sleep(0.2)
            recovered_s = time.monotonic() - restored
            time.sleep(1)
            stop.set()
            for t in threads:
                t.join(timeout=60)
    finally:
        proxy.close()

    statuses = [s for _p, s, _t, _r, _x in results]
    assert set(statuses) <= {200, 503}, {s for s in statuses if s not in (200, 503)}
    refused = [r for r in results if r[1] == 503]
    assert refused, "the outage was not noticed"
    assert all(r[3] is not None and int(r[3]) > 0 for r in refused)  # Retry-After
    assert max(r[2] for r in refused) < 6.5  # at most the connect timeout (5 s), never a hang
    assert "No se guardó nada" in refused[0][4]
    assert page.status_code == 503 and page_s < 6.5 and "Retry-After" in page.headers
    assert live.status_code == 200 and ready.status_code == 503
    assert statuses[-1] == 200 and recovered_s < 30  # without a restart
    acknowledged = {pid for pid, s, *_ in results if s == 200}
    assert _voted(db, c.id) == acknowledged  # every acknowledged vote kept, no refused one
    log = _refusals_in_log(tmp_path)
    assert "Traceback" not in log
    assert 1 <= log.count("answering 503") <= 8, log[-3000:]  # one line per incident and process, not per request


# --- SQLite's write lock held by another program ---------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_sqlite_lock_held_elsewhere_gives_503_within_seconds_while_reads_go_on(db, tmp_path):
    c = f.consultation(db)
    ids = f.proposals(db, c.id, [f"Conjunto de datos {k}" for k in range(20)])
    with serve(db.url, tmp_path) as base:
        visitors = [Visitor(base) for _ in range(8)]
        for v in visitors:
            assert v.get(f"/c/{c.slug}/").status_code == 200
        before = [_vote(visitors[0], c.slug, ids[0])]
        with sqlite_lock_held(Path(make_url(db.url).database)), ThreadPoolExecutor(8) as pool:
            waiting = [pool.submit(_vote, visitors[i], c.slug, ids[1 + i]) for i in range(8)]
            time.sleep(0.5)  # the votes are waiting for the lock now
            reads = []
            for path in (f"/c/{c.slug}/", "/readyz", f"/c/{c.slug}/proposals/{ids[0]}"):
                started = time.monotonic()
                reads.append((visitors[0].get(path).status_code, time.monotonic() - started))
            during = [w.result() for w in waiting]
        after = [_vote(visitors[i], c.slug, ids[10 + i]) for i in range(2)]
    assert [r[1] for r in before + after] == [200, 200, 200]
    assert [r[1] for r in during] == [503] * 8
    assert all(r[3] for r in during) and max(r[2] for r in during) < WRITE_WAIT_S + 2.5
    assert [s for s, _t in reads] == [200, 200, 200] and max(t for _s, t in reads) < 2
    assert _voted(db, c.id) == {pid for pid, s, *_ in before + during + after if s == 200}
    assert "Traceback" not in _refusals_in_log(tmp_path)


# --- a full disk -----------------------------------------------------------------------------------------


def test_a_full_disk_gives_503_and_loses_nothing_acknowledged(tmp_path):
    with small_tmpfs(tmp_path / "disk", 24) as disk:
        url = f"sqlite:///{disk}/idmx.sqlite3"
        with serve(url, tmp_path) as base:  # the first start creates the schema on the small disk
            data = Database(url, pool_size=2, max_overflow=0)
            try:
                c = f.consultation(data)
                ids = f.proposals(data, c.id, [f"Conjunto de datos {k}" for k in range(10)])
                visitor = Visitor(base)
                assert visitor.get(f"/c/{c.slug}/").status_code == 200
                results = [_vote(visitor, c.slug, ids[k]) for k in range(3)]
                filler = fill(disk)
                full = [_vote(visitor, c.slug, ids[k]) for k in range(3, 6)]
                page = visitor.get(f"/c/{c.slug}/")
                filler.unlink()
                results += [_vote(visitor, c.slug, ids[k]) for k in range(6, 9)]
                stored = _voted(data, c.id)
            finally:
                data.dispose()
    assert [r[1] for r in results] == [200] * 6
    assert [r[1] for r in full] == [503] * 3, [r[4][:300] for r in full]
    assert all(r[3] for r in full) and max(r[2] for r in full) < WRITE_WAIT_S + 2.5
    assert page.status_code == 200  # reading needs no space
    assert stored == {r[0] for r in results}
    assert "Traceback" not in _refusals_in_log(tmp_path)


# --- slow and truncated requests --------------------------------------------------------------------------


def _read_until_closed(sock: socket.socket, limit_s: float) -> tuple[bytes, float]:
    started = time.monotonic()
    sock.settimeout(limit_s)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data:
                break
    except (TimeoutError, ConnectionResetError):
        pass
    return data, time.monotonic() - started


def test_slow_and_truncated_requests_are_cut_off(tmp_path):
    with serve(f"sqlite:///{tmp_path}/idmx.sqlite3", tmp_path) as base:
        port = int(base.rsplit(":", 1)[1])
        visitor = Visitor(base)
        assert visitor.get("/").status_code == 200
        token = visitor.http.cookies.get("idmx_csrf")
        truncated = socket.create_connection(("127.0.0.1", port))
        truncated.sendall(
            b"POST /language HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            + f"x-csrftoken: {token}\r\nCookie: idmx_csrf={token}\r\n".encode()
            + b"Content-Length: 200\r\n\r\nlang=en&next=%2F")
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and no end of the headers
        answer, waited = _read_until_closed(truncated, 30)
        _ignored, slow_waited = _read_until_closed(slow, 30)
        truncated.close()
        slow.close()
        assert visitor.get("/").status_code == 200  # the server is fine
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert BODY_TIMEOUT_S - 1 < waited < BODY_TIMEOUT_S + 5
    assert slow_waited < 10 + 5  # granian's header read timeout (`idmx serve`)


def test_json_nested_thousands_deep_is_refused_not_a_crash(client, db):
    world = build_world(db)
    events = _plan_events(db, world.plan["aire"])
    for depth in (100_000, 2_000):
        body = "[" * depth + "]" * depth
        started = time.monotonic()
        r = client.post(f"/api/v1/plan-items/{world.plan['aire']}/commit", content=body,
                        headers={**auth(world.token), "content-type": "application/json"})
        assert r.status_code == 400, (depth, r.status_code, r.text[:300])
        assert r.headers["content-type"].startswith("application/json") and time.monotonic() - started < 5
    assert _plan_events(db, world.plan["aire"]) == events  # nothing written


def _plan_events(db: Database, item_id: int) -> int:
    with db.read() as s:
        return len(s.scalars(select(m.PlanEvent.id).where(m.PlanEvent.plan_item_id == item_id)).all())
