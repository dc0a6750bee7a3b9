"""Server-side stores (staff sessions): in this process's memory, or in Redis when IDMX_REDIS_URL is set so
that several app processes share them."""

from __future__ import annotations

from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.stores.registry import StoreRegistry

from idmx.settings import Settings


def store_registry(settings: Settings) -> StoreRegistry:
    if settings.redis_url:
        from litestar.stores.redis import RedisStore

        root = RedisStore.with_client(url=settings.redis_url, namespace="idmx")

        def redis_factory(name: str) -> Store:
            return root.with_namespace(name)

        return StoreRegistry(default_factory=redis_factory)
    return StoreRegistry(default_factory=lambda name: MemoryStore())
