"""A Litestar `Store` in the site's own database (table ``web_store``), for when there is no Redis.

Staff sessions kept in one process's memory are lost on restart and unknown to the other workers, so
``idmx serve --workers 2`` signed staff out at random. Rows in the database are seen by every app process
and outlive them, on SQLite and PostgreSQL alike, with no other service to run.

Expiry is in epoch seconds of the app's clock (`idmx.clock`, as the rate counters). Expired rows read as
missing; each `set` deletes its namespace's expired rows (sign-ins are rare, the delete uses an index).
A `get` with ``renew_for`` rewrites the expiry only once it has slipped more than `RENEW_SLACK_S` behind,
so a staff member clicking through pages does not cost a write (on SQLite, the one writer) per page.
"""

from __future__ import annotations

from datetime import timedelta

from anyio import to_thread
from litestar.stores.base import Store
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ColumnElement

from idmx import clock
from idmx.db import Database
from idmx.db import models as m

RENEW_SLACK_S = 60
_T = m.WebStoreEntry.__table__


def _seconds(value: int | timedelta | None) -> int | None:
    if value is None:
        return None
    return int(value.total_seconds()) if isinstance(value, timedelta) else int(value)


def _now() -> int:
    return int(clock.now().timestamp())


class DatabaseStore(Store):
    """One namespace of ``web_store`` (the registry gives each store name its own)."""

    __slots__ = ("_db", "namespace")

    def __init__(self, db: Database, namespace: str) -> None:
        self._db = db
        self.namespace = namespace[:60]

    def _key(self, key: str) -> ColumnElement[bool]:
        return and_(_T.c.namespace == self.namespace, _T.c.key == key[:200])

    def _live(self, now: int) -> ColumnElement[bool]:
        return or_(_T.c.expires_at.is_(None), _T.c.expires_at > now)

    # -- synchronous work, run in a worker thread ------------------------------------------------------

    def _set(self, key: str, value: bytes, expires_in: int | None) -> None:
        now = _now()
        row = {"namespace": self.namespace, "key": key[:200], "value": value,
               "expires_at": None if expires_in is None else now + expires_in}
        insert = (postgresql if self._db.engine.dialect.name == "postgresql" else sqlite).insert(_T).values(row)
        upsert = insert.on_conflict_do_update(
            index_elements=[_T.c.namespace, _T.c.key],
            set_={"value": insert.excluded.value, "expires_at": insert.excluded.expires_at},
        )
        with self._db.write_connection() as conn:
            conn.execute(delete(_T).where(_T.c.namespace == self.namespace, _T.c.expires_at <= now))
            conn.execute(upsert)

    def _get(self, key: str, renew_for: int | None) -> bytes | None:
        now = _now()
        with self._db.engine.connect() as conn:
            row = conn.execute(select(_T.c.value, _T.c.expires_at).where(self._key(key), self._live(now))).first()
        if row is None:
            return None
        if renew_for is not None and row.expires_at is not None and row.expires_at < now + renew_for - RENEW_SLACK_S:
            with self._db.write_connection() as conn:
                conn.execute(update(_T).where(self._key(key), self._live(now)).values(expires_at=now + renew_for))
        return bytes(row.value)

    def _delete(self, key: str) -> None:
        with self._db.write_connection() as conn:
            conn.execute(delete(_T).where(self._key(key)))

    def _delete_all(self) -> None:
        with self._db.write_connection() as conn:
            conn.execute(delete(_T).where(_T.c.namespace == self.namespace))

    def _expires_at(self, key: str) -> tuple[bool, int | None]:
        now = _now()
        with self._db.engine.connect() as conn:
            row = conn.execute(select(_T.c.expires_at).where(self._key(key), self._live(now))).first()
        return (row is not None, None if row is None or row.expires_at is None else row.expires_at - now)

    # -- the Store interface -----------------------------------------------------------------------------

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        data = value.encode() if isinstance(value, str) else bytes(value)
        await to_thread.run_sync(self._set, key, data, _seconds(expires_in))

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        return await to_thread.run_sync(self._get, key, _seconds(renew_for))

    async def delete(self, key: str) -> None:
        await to_thread.run_sync(self._delete, key)

    async def delete_all(self) -> None:
        await to_thread.run_sync(self._delete_all)

    async def exists(self, key: str) -> bool:
        found, _ = await to_thread.run_sync(self._expires_at, key)
        return found

    async def expires_in(self, key: str) -> int | None:
        _, seconds = await to_thread.run_sync(self._expires_at, key)
        return seconds
