"""Rate limits, without CAPTCHA: one limiter for public writes, sign-in and API writes.

Each limit counts one kind of request under one key (the respondent, the client's address, the staff
account, the API token) in fixed windows, with an atomic counter (`idmx.counters`: Redis ``INCRBY``, or
one SQL upsert shared by every app process), so simultaneous requests cannot slip past a limit. Every
refusal is a 429 with ``Retry-After``: the seconds until the window ends.

Counting every vote in the shared store would add a round trip (and, on SQLite, a write) to each one.
A process instead takes a lease of a few requests at a time (a twentieth of the limit) with one atomic
add, and grants them from memory; a lease is cut to what is left below the limit, so the requests
granted never exceed it (processes holding unused leases can make it refuse a few early: abuse control,
not billing). Limits of a few requests, like sign-in's, are counted one request at a time.

Routes opt in with ``opt={"rate_limit": KIND}`` ("vote" or "proposal"); the middleware counts every POST
to them before the handler runs. Sign-in and API writes call `Limiter.check` themselves, with their own
keys. Addresses are counted by keyed hash only (`idmx.web.respondents.client_keys`).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from anyio import to_thread
from litestar import Request
from litestar.exceptions import TooManyRequestsException
from litestar.types import ASGIApp, Receive, Scope, Send

from idmx import clock
from idmx.counters import Counters
from idmx.i18n import gettext as _
from idmx.settings import Settings
from idmx.web.respondents import client_keys, rate_limit_identity

SIGN_INS_PER_MINUTE = 5


@dataclass(frozen=True)
class Limit:
    kind: str  # what is limited: "vote", "proposal", "sign_in", "api_write"
    scope: str  # what it is counted under: "respondent", "address", "account", "token"
    allowed: int
    window_s: int


def limits_for(settings: Settings) -> list[Limit]:
    hour, minute = 3600, 60
    return [
        Limit("vote", "respondent", settings.votes_per_hour, hour),
        Limit("vote", "address", settings.votes_per_hour_per_ip, hour),
        Limit("proposal", "respondent", settings.proposals_per_hour, hour),
        Limit("proposal", "address", settings.proposals_per_hour_per_ip, hour),
        Limit("sign_in", "account", SIGN_INS_PER_MINUTE, minute),
        Limit("sign_in", "address", SIGN_INS_PER_MINUTE, minute),
    ]


@dataclass
class _Lease:
    window: int
    left: int


class Limiter:
    LEASE_FRACTION = 20

    def __init__(self, counters: Counters, limits: Iterable[Limit]) -> None:
        self._counters = counters
        self._by_kind: dict[str, list[Limit]] = {}
        for limit in limits:
            self._by_kind.setdefault(limit.kind, []).append(limit)
        self._leases: dict[str, _Lease] = {}
        self._fetching: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def _take(self, key: str, limit: Limit, now: float) -> bool:
        """One request of `key` under `limit`: from this process's lease, or a new lease from the counter.

        One thread at a time fetches a key's lease; the others wait for it and take from it, so a burst of
        simultaneous requests reserves one lease, not one each."""
        window = int(now // limit.window_s)
        with self._lock:
            if self._from_lease(key, window):
                return True
            fetching = self._fetching.setdefault(key, threading.Lock())
        with fetching:
            with self._lock:
                if self._from_lease(key, window):
                    return True
            batch = max(1, limit.allowed // self.LEASE_FRACTION)
            total = self._counters.hit(key, limit.window_s, now, batch)
            granted = batch - max(0, total - limit.allowed)
            if granted <= 0:
                return False
            with self._lock:
                if len(self._leases) > 200_000:  # leases of ended windows: keep memory bounded
                    self._leases = {k: v for k, v in self._leases.items() if v.window == window}
                    self._fetching = {k: v for k, v in self._fetching.items() if k in self._leases}
                self._leases[key] = _Lease(window, granted - 1)
            return True

    def _from_lease(self, key: str, window: int) -> bool:
        lease = self._leases.get(key)
        if lease is not None and lease.window == window and lease.left > 0:
            lease.left -= 1
            return True
        return False

    def hit(self, kind: str, keys: Mapping[str, str], limits: Iterable[Limit] | None = None) -> int | None:
        """Count one request of `kind` under each of its keys; the seconds to wait when any limit is
        exceeded (the request must then be refused), else None. Every limit counts, even past the first
        one exceeded, so no key gets a free request. `limits` replaces the configured ones of `kind`."""
        now = clock.now().timestamp()
        wait = None
        for limit in self._by_kind.get(kind, []) if limits is None else limits:
            key = keys.get(limit.scope)
            if not key:
                continue
            if not self._take(f"{kind}:{limit.scope}:{key}", limit, now):
                remaining = limit.window_s - int(now) % limit.window_s
                wait = max(wait or 0, remaining)
        return wait

    def check(self, kind: str, keys: Mapping[str, str], limits: Iterable[Limit] | None = None) -> None:
        wait = self.hit(kind, keys, limits)
        if wait is not None:
            raise TooManyRequestsException(_("You are sending too many requests. Please wait a moment and try again."),
                                           headers={"Retry-After": str(wait)})

    async def acheck(self, kind: str, keys: Mapping[str, str], limits: Iterable[Limit] | None = None) -> None:
        """`check` off the event loop (the counters may wait on Redis or the database)."""
        await to_thread.run_sync(self.check, kind, keys, limits)


def account_key(email: str) -> str:
    return hashlib.sha256(f"account:{email}".encode()).hexdigest()[:32]


def public_write_keys(request: Request) -> dict[str, str]:
    return {"respondent": rate_limit_identity(request), "address": client_keys(request)[0]}


def rate_limit_middleware(limiter: Limiter):
    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            handler = scope.get("route_handler")
            kind = handler.opt.get("rate_limit") if handler is not None else None
            if kind and scope["type"] == "http" and scope["method"] == "POST":
                await limiter.acheck(kind, public_write_keys(Request(scope)))
            await app(scope, receive, send)

        return middleware

    return factory
