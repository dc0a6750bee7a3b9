"""Rate limits on public writes, without CAPTCHA.

Routes opt in with `opt={"rate_limit": KIND}` ("vote" or "proposal"); every POST to such a route is
counted against each limit of its kind: one per respondent (the token's hash, or the address for a
client without the cookie) and one per client address. Each limit has its own store, so one limit's
counter can never stand in for another's.

Fixed one-hour windows with a plain counter per key. Litestar's own rate-limit middleware keeps the
timestamp of every request in the window and re-encodes the whole list on each request (about 0.8 ms
at 6,000 requests per hour), and it runs its throttle check in a worker thread on every request,
GETs included; a counter costs the same at any volume and only POSTs to opted-in routes pay for it.
The counter is read and written without a lock, so a burst of simultaneous requests can slip a few
past the limit: that is acceptable for abuse control, and it keeps the hot path cheap.

Stores live in memory per process, or in Redis when IDMX_REDIS_URL is set, so that several app
processes share the counters.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from litestar import Request
from litestar.exceptions import TooManyRequestsException
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.stores.registry import StoreRegistry
from litestar.types import ASGIApp, Receive, Scope, Send

from idmx.settings import Settings
from idmx.web import client_ip
from idmx.web.respondents import rate_limit_identity

WINDOW_S = 3600


@dataclass(frozen=True)
class Limit:
    kind: str  # the routes' opt["rate_limit"]
    scope: str  # what is counted: "respondent" or "ip"
    per_hour: int
    identify: Callable[[Request], str]

    @property
    def store_name(self) -> str:
        return f"rate_limit_{self.kind}_{self.scope}"


def limits_for(settings: Settings) -> list[Limit]:
    return [
        Limit("vote", "respondent", settings.votes_per_hour, rate_limit_identity),
        Limit("vote", "ip", settings.votes_per_hour_per_ip, client_ip),
        Limit("proposal", "respondent", settings.proposals_per_hour, rate_limit_identity),
        Limit("proposal", "ip", settings.proposals_per_hour_per_ip, client_ip),
    ]


async def _hit(store: Store, key: str) -> int:
    raw = await store.get(key)
    count = int(raw or 0) + 1
    await store.set(key, str(count), expires_in=WINDOW_S)
    return count


def rate_limit_middleware(settings: Settings):
    by_kind: dict[str, list[Limit]] = {}
    for limit in limits_for(settings):
        by_kind.setdefault(limit.kind, []).append(limit)

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            handler = scope.get("route_handler")
            kind = handler.opt.get("rate_limit") if handler is not None else None
            if kind and scope["type"] == "http" and scope["method"] == "POST":
                request: Request = Request(scope)
                window = int(time.time() // WINDOW_S)
                for limit in by_kind.get(kind, []):
                    store = request.app.stores.get(limit.store_name)
                    if await _hit(store, f"{limit.identify(request)}:{window}") > limit.per_hour:
                        retry = WINDOW_S - int(time.time()) % WINDOW_S
                        raise TooManyRequestsException(headers={"Retry-After": str(retry)})
            await app(scope, receive, send)

        return middleware

    return factory


def store_registry(settings: Settings) -> StoreRegistry:
    if settings.redis_url:
        from litestar.stores.redis import RedisStore

        root = RedisStore.with_client(url=settings.redis_url, namespace="idmx")

        def redis_factory(name: str) -> Store:
            return root.with_namespace(name)

        return StoreRegistry(default_factory=redis_factory)
    return StoreRegistry(default_factory=lambda name: MemoryStore())
