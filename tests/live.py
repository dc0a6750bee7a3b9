"""A real `idmx serve` against a test database, for tests with parallel clients over HTTP.

`serve(url, tmp, **env)` starts the server (granian, its worker processes, no background worker) on a
free port against the given database, waits for /healthz and yields its base URL; it stops the whole
process group at the end. The database belongs to the test (the `db` fixture empties it afterwards).
`Visitor` is one browser: it keeps its cookies and sends the CSRF token the way the site's forms do.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

SECRET = "live-test-secret-" + "x" * 32
LOW_LIMITS_OFF = {  # far above what a test does, unless it sets its own
    "IDMX_VOTES_PER_HOUR": "1000000", "IDMX_VOTES_PER_HOUR_PER_IP": "10000000",
    "IDMX_PROPOSALS_PER_HOUR": "1000000", "IDMX_PROPOSALS_PER_HOUR_PER_IP": "10000000",
}


def one_window(needed_s: float = 90, window_s: int = 3600) -> None:
    """Wait, if need be, so that the next ``needed_s`` seconds fall in one rate-limit window: limits count in
    fixed windows aligned to the clock (`idmx.counters.window_start`), and a burst that straddles the hour
    gets two windows' worth (a suite running across 13:00 once saw all 1,000 of 1,000 votes accepted)."""
    left = window_s - time.time() % window_s
    if left < needed_s:
        time.sleep(left + 0.5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(database_url: str, tmp: Path, *, workers: int = 2, timeout_s: float = 60, **env: str) -> Iterator[str]:
    port = free_port()
    environment = {
        **os.environ, "IDMX_DATABASE_URL": database_url, "IDMX_ENV": "test", "IDMX_SECRET_KEY": SECRET,
        "IDMX_VAR_DIR": str(tmp), **LOW_LIMITS_OFF, **env,
    }
    log_path = tmp / f"server-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "idmx", "serve", "--no-worker", "--port", str(port), "--workers", str(workers)],
            env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"idmx serve did not start:\n{Path(log_path).read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        yield base
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGKILL)


class Visitor:
    """One browser: its cookies, and the CSRF token sent back as the site's htmx requests send it."""

    def __init__(self, base: str) -> None:
        # A new connection per request: a kept-alive connection the server closes just as a request goes out
        # ends that request without an answer (browsers quietly retry it; a test would count it as lost).
        self.http = httpx.Client(base_url=base, timeout=60, follow_redirects=False,
                                 limits=httpx.Limits(max_keepalive_connections=0))

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path)

    def post(self, path: str, data: dict | bytes | None = None, *, content_type: str | None = None,
             htmx: bool = True) -> httpx.Response:
        headers = {"x-csrftoken": self.http.cookies.get("idmx_csrf", "")}
        if htmx:
            headers["HX-Request"] = "true"
        if isinstance(data, bytes):
            headers["content-type"] = content_type or "application/x-www-form-urlencoded"
            return self.http.post(path, content=data, headers=headers)
        return self.http.post(path, data=data or {}, headers=headers)

    def close(self) -> None:
        self.http.close()
