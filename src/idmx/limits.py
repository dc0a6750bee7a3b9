"""Rate limits on public writes, without CAPTCHA.

Each limit is its own Litestar rate-limit middleware with its own store (configs that share a store
share one counter per client). A limit applies to the routes whose `opt["rate_limit"]` names its
kind. Stores live in memory per process, or in Redis when IDMX_REDIS_URL is set so that several app
processes share the counters.
"""

from __future__ import annotations

from litestar import Request
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.stores.registry import StoreRegistry

from idmx.consultations.identity import rate_limit_identity
from idmx.settings import Settings
from idmx.web import client_ip


def _applies_to(kind: str):
    def check(request: Request) -> bool:
        return request.method == "POST" and request.route_handler.opt.get("rate_limit") == kind

    return check


def rate_limit_configs(settings: Settings) -> list[RateLimitConfig]:
    limits = [
        ("vote", "respondent", settings.votes_per_hour, rate_limit_identity),
        ("vote", "ip", settings.votes_per_hour_per_ip, client_ip),
        ("proposal", "respondent", settings.proposals_per_hour, rate_limit_identity),
        ("proposal", "ip", settings.proposals_per_hour_per_ip, client_ip),
    ]
    return [
        RateLimitConfig(
            rate_limit=("hour", limit),
            identifier_for_request=identify,
            check_throttle_handler=_applies_to(kind),
            store=f"rate_limit_{kind}_{scope}",
        )
        for kind, scope, limit, identify in limits
    ]


def store_registry(settings: Settings) -> StoreRegistry:
    if settings.redis_url:
        from litestar.stores.redis import RedisStore

        root = RedisStore.with_client(url=settings.redis_url, namespace="idmx")

        def redis_factory(name: str) -> Store:
            return root.with_namespace(name)

        return StoreRegistry(default_factory=redis_factory)
    return StoreRegistry(default_factory=lambda name: MemoryStore())
