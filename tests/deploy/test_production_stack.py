"""The production stack as the README ("Running in production") sets it up, driven from outside: nginx from
deploy/nginx/idmx.conf.template (TLS, a self-signed certificate made here) in front of two
`idmx serve --no-worker --workers 1` processes, `idmx worker` on its own, PostgreSQL and Redis, with
IDMX_ENV=production.

Respondents vote through nginx from several threads, each thread from its own loopback address
(127.0.0.x), while one app process is stopped with SIGTERM and started again; a staff member signed in
once keeps being served by whichever process answers. Then: every vote answered 200 is stored, once;
nothing but 502/503 went wrong, and only while the process was down; the restarted process answers
votes again; the burst counter counted new respondents under each thread's own address, which the app
only knows from X-Forwarded-For (every request reaches it from nginx), though every request also carried
an X-Forwarded-For of its own to hide behind.

Without nginx, openssl, PostgreSQL or Redis the test skips with the reason, except under CI=true, where
it fails: CI must run it (`.ci/run` installs nginx). Redis: IDMX_TEST_REDIS_URL, by default database 11
of 127.0.0.1:6379; every key the stack writes there expires by itself within a day.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from idmx.db import Database
from idmx.db import models as m
from idmx.paths import STATIC_DIR
from idmx.ranking import tallies
from tests import factories as f
from tests.conftest import IN_CI, PG_ADMIN_URL, _postgres_unavailable
from tests.live import free_port, one_window

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "nginx" / "idmx.conf.template"
REDIS_URL = os.environ.get("IDMX_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
STARTUP_TIMEOUT_S = 60
VOTER_THREADS = 6
BURST = 3  # IDMX_NEW_RESPONDENTS_PER_HOUR_PER_ADDRESS: a thread's 4th new respondent on is flagged
PROPOSALS_PER_VISITOR = 3
STAFF_PASSWORD = "una contraseña de producción larga"


def _nginx() -> str | None:
    return shutil.which("nginx", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))


def _missing() -> str | None:
    if _nginx() is None:
        return "nginx is not installed (apt-get install nginx)"
    if shutil.which("openssl") is None:
        return "openssl is not installed (apt-get install openssl): the test makes nginx's certificate with it"
    reason = _postgres_unavailable()
    if reason:
        return reason
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except ImportError:
        return "the redis package is not installed (pip install redis)"
    except Exception as exc:  # any failure means "not here"; the message says which
        return f"Redis not reachable at {REDIS_URL} ({type(exc).__name__}); set IDMX_TEST_REDIS_URL"
    return None


@pytest.fixture(scope="module")
def nginx() -> str:
    reason = _missing()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    return _nginx()


@pytest.fixture
def database_url() -> Iterator[str]:
    """A fresh PostgreSQL database, the production stack's own, dropped at the end."""
    name = f"idmx_stack_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def stack_db(database_url) -> Iterator[Database]:
    """The test's own connections to the stack's database: to set up a consultation and check the votes."""
    db = Database(database_url, pool_size=2, max_overflow=2)
    yield db
    db.dispose()


def render(template: str, values: dict[str, str]) -> str:
    """Fill the template's ${NAME} placeholders, as `envsubst` with the list of names does; nginx's own
    variables ($host, ...) are written without braces and stay."""
    text = re.sub(r"\$\{([A-Z0-9_]+)\}", lambda match: values[match.group(1)], template)
    assert not [line for line in text.splitlines() if "${" in line.split("#")[0]], "a placeholder left unfilled"
    return text


def _wait_for(url: str, process: subprocess.Popen, log: Path, *, verify: ssl.SSLContext | bool = True) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        try:
            if httpx.get(url, timeout=2, verify=verify).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{process.args} did not come up:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)


def _stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout_s: float = 30) -> int | None:
    """Signal the process as its service manager would, wait, and kill what is left of its group."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # granian's worker processes, if any outlived it
    except ProcessLookupError:
        pass
    return process.wait(timeout=10)


@dataclass
class Stack:
    tmp: Path
    env: dict[str, str]
    nginx: str
    app_ports: list[int] = field(default_factory=lambda: [free_port(), free_port()])
    https_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    apps: list[subprocess.Popen | None] = field(default_factory=lambda: [None, None])
    others: list[subprocess.Popen] = field(default_factory=list)
    tls: ssl.SSLContext | None = None

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def idmx(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "idmx", *args], env=self.env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
        return done.stdout

    def _spawn(self, name: str, command: list[str]) -> tuple[subprocess.Popen, Path]:
        log = self.tmp / f"{name}.log"
        with open(log, "ab") as out:
            process = subprocess.Popen(command, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        return process, log

    def start_app(self, i: int) -> None:
        port = self.app_ports[i]
        process, log = self._spawn(f"app-{i}", [sys.executable, "-m", "idmx", "serve", "--no-worker", "--workers", "1",
                                                "--host", "127.0.0.1", "--port", str(port)])
        self.apps[i] = process
        _wait_for(f"http://127.0.0.1:{port}/healthz", process, log)

    def stop_app(self, i: int) -> int | None:
        process, self.apps[i] = self.apps[i], None
        return _stop(process)

    def start_worker(self) -> None:
        process, _ = self._spawn("worker", [sys.executable, "-m", "idmx", "worker"])
        self.others.append(process)

    def start_nginx(self) -> None:
        cert, key = self.tmp / "tls.crt", self.tmp / "tls.key"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True, timeout=60)
        self.tls = ssl.create_default_context(cafile=str(cert))
        site = render(TEMPLATE.read_text(encoding="utf-8"), {
            "SERVER_NAME": "127.0.0.1", "HTTPS_LISTEN": f"127.0.0.1:{self.https_port}",
            "HTTP_LISTEN": f"127.0.0.1:{self.http_port}",
            "PUBLIC_URL": self.base, "TLS_CERTIFICATE": str(cert), "TLS_CERTIFICATE_KEY": str(key),
            "APP_SERVER_1": f"127.0.0.1:{self.app_ports[0]}", "APP_SERVER_2": f"127.0.0.1:{self.app_ports[1]}",
            "STATIC_DIR": str(STATIC_DIR),
        })
        (self.tmp / "idmx.conf").write_text(site, encoding="utf-8")
        conf = self.tmp / "nginx.conf"
        temp = "\n".join(f"    {kind}_temp_path {self.tmp / ('nginx-' + kind)};"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        # As root, nginx's workers would run as nobody, who may not enter pytest's private tmp folder.
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf.write_text(f"""daemon off;
{user}worker_processes 1;
pid {self.tmp / 'nginx.pid'};
error_log {self.tmp / 'nginx-error.log'} info;
events {{ worker_connections 512; }}
http {{
    types {{ text/html html; text/css css; application/javascript js; image/svg+xml svg; font/woff2 woff2; }}
    default_type application/octet-stream;
    log_format stack '$msec $remote_addr $request_method $uri $status "$upstream_addr"';
    access_log {self.tmp / 'nginx-access.log'} stack;
{temp}
    include {self.tmp / 'idmx.conf'};
}}
""", encoding="utf-8")
        command = [self.nginx, "-p", str(self.tmp), "-c", str(conf), "-e", str(self.tmp / "nginx-error.log")]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stderr
        process, log = self._spawn("nginx", command)
        self.others.append(process)
        _wait_for(self.base + "/healthz", process, self.tmp / "nginx-error.log", verify=self.tls)

    def access_log(self) -> list[tuple[float, str, str, str, int, str]]:
        """(time, client, method, path, status, the app process that answered last) per request."""
        rows = []
        for line in (self.tmp / "nginx-access.log").read_text().splitlines():
            at, client, method, path, status, upstream = line.split(" ", 5)
            rows.append((float(at), client, method, path, int(status), upstream.strip('"').split(", ")[-1]))
        return rows

    def stop_all(self) -> list[int | None]:
        codes = [self.stop_app(i) for i, app in enumerate(self.apps) if app is not None]
        return codes + [_stop(p, signal.SIGQUIT if p.args[0] == self.nginx else signal.SIGTERM) for p in self.others]


class Browser:
    """One visitor's browser at one client address: its cookies, and CSRF the way the site's htmx sends it.
    Every request also claims, in X-Forwarded-For, to come from an address of its own choosing."""

    def __init__(self, base: str, tls: ssl.SSLContext, source: str) -> None:
        transport = httpx.HTTPTransport(verify=tls, local_address=source, retries=0)
        spoofed = f"198.51.100.{secrets.randbelow(250) + 1}"
        self.http = httpx.Client(base_url=base, transport=transport, timeout=60, follow_redirects=False,
                                 headers={"X-Forwarded-For": spoofed})

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path)

    def post(self, path: str, data: dict, *, htmx: bool = True) -> httpx.Response:
        headers = {"x-csrftoken": self.http.cookies.get("idmx_csrf", "")}
        if htmx:
            headers["HX-Request"] = "true"
        return self.http.post(path, data=data, headers=headers)

    def token_hash(self) -> str | None:
        cookie = self.http.cookies.get("idmx_respondent")
        return hashlib.sha256(cookie.split(".")[0].encode()).hexdigest() if cookie else None

    def close(self) -> None:
        self.http.close()


@dataclass
class Answer:
    at: float
    thread: int
    kind: str  # "page", "vote", "staff", or "signed out": a staff page that was not the signed-in one
    status: int
    vote: tuple[str, int] | None = None  # (respondent token hash, proposal id) of a vote


def test_votes_and_a_staff_session_survive_an_app_restart_behind_nginx(nginx, database_url, stack_db, tmp_path):
    one_window(150)  # new respondents are counted per address and hour: every thread's burst in one hour
    started = time.monotonic()
    env = {
        **os.environ, "IDMX_DATABASE_URL": database_url, "IDMX_ENV": "production",
        "IDMX_SECRET_KEY": secrets.token_urlsafe(48), "IDMX_VAR_DIR": str(tmp_path), "IDMX_REDIS_URL": REDIS_URL,
        "IDMX_TRUSTED_PROXIES": "127.0.0.1", "IDMX_VOTES_PER_HOUR": "1000000", "IDMX_VOTES_PER_HOUR_PER_IP": "10000000",
        "IDMX_NEW_RESPONDENTS_PER_HOUR_PER_ADDRESS": str(BURST), "IDMX_NEW_RESPONDENTS_PER_HOUR_PER_NETWORK": "1000000",
    }
    for moved_clock in ("IDMX_NOW", "IDMX_CLOCK_OFFSET"):
        env.pop(moved_clock, None)
    stack = Stack(tmp_path, env, nginx)
    env["IDMX_PUBLIC_URL"] = stack.base
    stack.idmx("db", "upgrade")
    stack.idmx("seed")
    staff_email = f"central.{uuid.uuid4().hex[:8]}@stack.test"  # sign-in counters in Redis are per e-mail
    stack.idmx("createuser", "--email", staff_email, "--role", "central_admin", "--password", STAFF_PASSWORD)
    db = stack_db
    c = f.consultation(db, slug="produccion")
    proposal_ids = f.proposals(db, c.id, f.TITLES)
    answers: list[Answer] = []
    stop = threading.Event()
    try:
        stack.start_app(0)
        stack.start_app(1)
        stack.start_worker()
        stack.start_nginx()
        setup_s = time.monotonic() - started

        # Static files come from disk, not from the app (which would add its security headers).
        css = httpx.get(stack.base + "/static/css/idmx.css", verify=stack.tls)
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        assert "content-security-policy" not in css.headers and "max-age=3600" in css.headers["cache-control"]
        plain = httpx.get(f"http://127.0.0.1:{stack.http_port}/c/produccion/?q=1")
        assert plain.status_code == 301 and plain.headers["location"] == stack.base + "/c/produccion/?q=1"

        staff = Browser(stack.base, stack.tls, "127.0.0.200")
        assert staff.get("/staff/login").status_code == 200
        signed_in = staff.post("/staff/login", {"email": staff_email, "password": STAFF_PASSWORD, "next": "/staff/"},
                               htmx=False)
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/staff/", signed_in.text[:500]

        def vote(t: int) -> None:
            source = f"127.0.0.{10 + t}"
            visitor = 0
            while not stop.is_set():
                browser = Browser(stack.base, stack.tls, source)
                try:
                    page = browser.get(f"/c/{c.slug}/")
                    answers.append(Answer(time.time(), t, "page", page.status_code))
                    for k in range(PROPOSALS_PER_VISITOR):
                        pid = proposal_ids[(visitor + k + t) % len(proposal_ids)]
                        answer = browser.post(f"/c/{c.slug}/proposals/{pid}/vote", {"support": "1"})
                        answers.append(Answer(time.time(), t, "vote", answer.status_code, (browser.token_hash(), pid)))
                finally:
                    browser.close()
                visitor += 1

        def keep_reading_staff_pages() -> None:
            while not stop.is_set():
                answer = staff.get("/staff/")
                signed_in = answer.status_code != 200 or staff_email in answer.text
                # "signed out": a 200 that is not the signed-in staff member's page fails the test below.
                answers.append(Answer(time.time(), -1, "staff" if signed_in else "signed out", answer.status_code))
                time.sleep(0.05)

        threads = [threading.Thread(target=vote, args=(t,)) for t in range(VOTER_THREADS)]
        threads.append(threading.Thread(target=keep_reading_staff_pages))
        for thread in threads:
            thread.start()
        try:
            time.sleep(3)
            down = time.time()
            assert stack.stop_app(0) == 0, (tmp_path / "app-0.log").read_text()[-2000:]
            stopped = time.time()
            stack.start_app(0)
            up = time.time()
            time.sleep(4)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=120)
        staff.close()
        access = stack.access_log()
    finally:
        exit_codes = stack.stop_all()
    total_s = time.monotonic() - started

    # Nothing went wrong but a process being away, and only while it was.
    statuses = Counter((a.kind, a.status) for a in answers)
    outside = Counter((a.kind, a.status) for a in answers if not down <= a.at <= up + 1)
    assert set(statuses) <= {(kind, code) for kind in ("page", "vote", "staff") for code in (200, 502, 503)}, statuses
    assert {code for _kind, code in outside} == {200}, outside
    # The staff session held on both processes, the restarted one included (sessions live in Redis).
    port = {f"127.0.0.1:{p}": i for i, p in enumerate(stack.app_ports)}
    staff_pages = [(at, port.get(upstream)) for at, client, method, path, status, upstream in access
                   if client == "127.0.0.200" and path == "/staff/" and status == 200]
    assert {i for _at, i in staff_pages} == {0, 1}, staff_pages
    assert any(i == 0 and at > up for at, i in staff_pages)
    # Votes went on after the restart, and the restarted process took its share of them.
    vote_paths = [(at, port.get(upstream)) for at, client, method, path, status, upstream in access
                  if method == "POST" and path.endswith("/vote") and status == 200]
    assert sum(1 for a in answers if a.kind == "vote" and a.status == 200 and a.at > up) >= 20
    assert sum(1 for at, i in vote_paths if i == 0 and at > up) >= 5
    assert sum(1 for at, _i in vote_paths if stopped <= at <= up) >= 5, "votes must go on while a process is down"

    with db.read() as s:
        stored = Counter(s.execute(select(m.Respondent.token_hash, m.Vote.proposal_id, m.Vote.value)
                                   .join(m.Respondent, m.Respondent.id == m.Vote.respondent_id)).all())
        flagged = {row.token_hash for row in s.execute(
            select(m.Respondent.token_hash).join(m.RespondentFlag, m.RespondentFlag.respondent_id == m.Respondent.id))}
    acknowledged = {a.vote for a in answers if a.kind == "vote" and a.status == 200}
    sent = {a.vote for a in answers if a.kind == "vote"}
    assert len(acknowledged) >= 100
    # Every vote answered 200 is there, once, as cast...
    assert {(token, pid, 1) for token, pid in acknowledged} <= set(stored)
    assert set(stored.values()) == {1}
    # ...and nothing else, but perhaps a first vote whose answer (and so its cookie) was lost to the restart.
    unnamed = [row for row in stored if row[:2] not in sent]
    assert len(unnamed) <= sum(1 for a in answers if a.kind == "vote" and a.status != 200 and a.vote[0] is None)
    assert tallies.check(db) == (1, [])

    # New respondents were counted under each thread's own address, which only X-Forwarded-For carried:
    # each thread's respondents after its BURST-th are flagged, whatever address each request claimed.
    respondents = {token for token, _pid, _value in stored}
    by_thread: dict[int, list[str]] = {}
    for a in answers:
        if a.kind == "vote" and a.vote[0] in respondents and a.vote[0] not in by_thread.setdefault(a.thread, []):
            by_thread[a.thread].append(a.vote[0])
    assert all(len(tokens) > BURST for tokens in by_thread.values()), {t: len(v) for t, v in by_thread.items()}
    assert flagged == {token for tokens in by_thread.values() for token in tokens[BURST:]}

    assert exit_codes[-2:] == [0, 0], f"the worker and nginx must stop cleanly: {exit_codes}"
    worker_log = (tmp_path / "worker.log").read_text()
    assert "worker started" in worker_log and "Traceback" not in worker_log, worker_log[-2000:]
    assert f"ranking {c.slug}:" in worker_log  # its first round ran on the stack's database
    print(f"\nproduction stack: set up in {setup_s:.1f} s, {total_s:.1f} s in all; {len(answers)} requests, "
          f"{len(acknowledged)} votes acknowledged; app 0 stopped in {stopped - down:.1f} s and back "
          f"{up - stopped:.1f} s later; {dict(statuses)}")
