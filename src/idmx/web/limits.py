"""Rate limits, without CAPTCHA: one limiter for public writes, sign-in and API writes.

Each limit counts one kind of request under one key (the respondent, the client's address, the staff
account, the API token) in fixed windows, with an atomic counter (`idmx.counters`: Redis ``INCR``, or one
SQL upsert shared by every app process), so simultaneous requests cannot slip past a limit. Every refusal
is a 429 with ``Retry-After``: the seconds until the window ends.

Routes opt in with ``opt={"rate_limit": KIND}`` ("vote" or "proposal"); the middleware counts every POST
to them before the handler runs. Sign-in and API writes call `Limiter.check` themselves, with their own
keys. Addresses are counted by keyed hash only (`idmx.web.respondents.client_keys`).
"""

from __future__ import annotations

import hashlib
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


class Limiter:
    def __init__(self, counters: Counters, limits: Iterable[Limit]) -> None:
        self._counters = counters
        self._by_kind: dict[str, list[Limit]] = {}
        for limit in limits:
            self._by_kind.setdefault(limit.kind, []).append(limit)

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
            count = self._counters.hit(f"{kind}:{limit.scope}:{key}", limit.window_s, now)
            if count > limit.allowed:
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
