"""Server-side stores (staff sessions), shared by every app process of the site: in Redis when
IDMX_REDIS_URL is set, otherwise in the site's database (`idmx.web.dbstore`), so that ``--workers 2`` and
restarts keep staff signed in on the embedded default too."""

from __future__ import annotations

from litestar.stores.base import Store
from litestar.stores.registry import StoreRegistry

from idmx.db import Database
from idmx.settings import Settings
from idmx.web.dbstore import DatabaseStore


def store_registry(settings: Settings, db: Database) -> StoreRegistry:
    if settings.redis_url:
        from litestar.stores.redis import RedisStore

        root = RedisStore.with_client(url=settings.redis_url, namespace="idmx")

        def redis_factory(name: str) -> Store:
            return root.with_namespace(name)

        return StoreRegistry(default_factory=redis_factory)

    def database_factory(name: str) -> Store:
        return DatabaseStore(db, name)

    return StoreRegistry(default_factory=database_factory)
