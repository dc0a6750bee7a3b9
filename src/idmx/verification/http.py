"""Fetching a published address: bounded, and never towards the platform's own network.

`fetch(url)` follows up to `MAX_REDIRECTS` redirects and returns a `checks.Fetched`: the status, the
declared content type and at most `HEAD_BYTES` of the body (enough to recognise a format; the rest is
never downloaded). Every step is bounded: `TIMEOUT_S` per connection and read, `DEADLINE_S` for the
whole fetch.

Server-side request forgery: a published address is typed by an institution, and the worker fetches
it from inside the platform's network. Each hop's host name is resolved once, every address it
resolves to must be a public one (`ipaddress.is_global`: no loopback, private, link-local, cloud
metadata 169.254.169.254, multicast or reserved ranges), and the connection goes to the address that
was checked (so DNS cannot answer differently a moment later). Only http and https, only ports 80,
443 and 8000-8999 unless private addresses are allowed. ``IDMX_VERIFY_PRIVATE_ADDRESSES=1`` (not in
production) lifts the address rule, for tests and development against local servers.

Run it outside any database transaction: it may take seconds.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from urllib.parse import urljoin, urlsplit

from idmx.verification.checks import Fetched

TIMEOUT_S = 5.0
DEADLINE_S = 15.0
HEAD_BYTES = 64 * 1024
MAX_REDIRECTS = 5
PUBLIC_PORTS = {80, 443} | set(range(8000, 9000))
USER_AGENT = "IDMX-publication-check/1"


class Refused(Exception):
    """An address the platform does not fetch."""


def _addresses(host: str, port: int, allow_private: bool) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve {host}: {exc}") from exc
    found = []
    for *_, sockaddr in infos:
        ip = ipaddress.ip_address(sockaddr[0])
        if not allow_private and not ip.is_global:
            raise Refused(f"{host} resolves to a non-public address ({ip})")
        found.append(str(ip))
    if not found:
        raise OSError(f"cannot resolve {host}")
    return found


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, ip: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._ip = ip

    def connect(self) -> None:
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, ip: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._ip = ip

    def connect(self) -> None:
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _one(url: str, allow_private: bool, deadline: float) -> tuple[int, str, bytes, str | None]:
    """One request: (status, content type, first bytes, redirect location or None)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(f"not an http(s) address: {url[:100]}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if not allow_private and port not in PUBLIC_PORTS:
        raise Refused(f"port {port} is not fetched")
    ip = _addresses(parts.hostname, port, allow_private)[0]
    timeout = max(0.1, min(TIMEOUT_S, deadline - time.monotonic()))
    cls = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    conn = cls(parts.hostname, port, ip, timeout)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.request("GET", path, headers={"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "identity"})
        response = conn.getresponse()
        location = response.getheader("Location") if response.status in (301, 302, 303, 307, 308) else None
        head = b""
        while location is None and len(head) < HEAD_BYTES and time.monotonic() < deadline:
            chunk = response.read1(HEAD_BYTES - len(head)) if hasattr(response, "read1") else response.read(HEAD_BYTES - len(head))
            if not chunk:
                break
            head += chunk
        return response.status, response.getheader("Content-Type") or "", head, location
    finally:
        conn.close()


def fetch(url: str, *, allow_private: bool = False) -> Fetched:
    """GET `url` within the bounds above; never raises for network trouble (it is the verdict)."""
    deadline = time.monotonic() + DEADLINE_S
    current = url
    try:
        for _ in range(MAX_REDIRECTS + 1):
            status, content_type, head, location = _one(current, allow_private, deadline)
            if location is None:
                return Fetched(status, content_type, head)
            current = urljoin(current, location)
        return Fetched(None, error=f"more than {MAX_REDIRECTS} redirects")
    except Refused as exc:
        return Fetched(None, error=str(exc), refused=True)
    except (OSError, http.client.HTTPException, ssl.SSLError, ValueError) as exc:
        return Fetched(None, error=f"{type(exc).__name__}: {exc}"[:500])
