"""Atomic counters per key and fixed time window: what rate limits and burst detection count with.

Every backend adds one and returns the new count in a single atomic step, so simultaneous requests can
never both read the old value (the reason a read-then-write counter let 846 votes through a limit of 600):

* `RedisCounters`: ``INCR`` and ``EXPIRE`` in one transaction, when IDMX_REDIS_URL is set;
* `SqlCounters`: one ``INSERT ... ON CONFLICT DO UPDATE SET count = count + 1 RETURNING count`` on the
  ``rate_counters`` table, the same statement on SQLite and PostgreSQL: shared by every app process of the
  site and kept across restarts, with no other service to run;
* `MemoryCounters`: a dictionary under a lock, for one process (tests of the limits themselves).

Keys are built by the callers and hold no personal data (addresses are keyed hashes, see
`idmx.web.respondents.client_keys`). Old windows are deleted by the worker (`SqlCounters.purge`).
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Protocol

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from idmx import clock
from idmx.db import Database
from idmx.db import models as m

__all__ = ["Counters", "MemoryCounters", "RedisCounters", "SqlCounters", "counters_for", "window_start"]


def window_start(window_s: int, now: float | None = None) -> int:
    now = clock.now().timestamp() if now is None else now
    return int(now // window_s) * window_s


class Counters(Protocol):
    def hit(self, key: str, window_s: int, now: float | None = None, n: int = 1) -> int:
        """Add `n` to `key`'s count in the current window of `window_s` seconds; returns the new count."""


class MemoryCounters:
    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, window_s: int, now: float | None = None, n: int = 1) -> int:
        slot = (key, window_start(window_s, now))
        with self._lock:
            self._counts[slot] = count = self._counts.get(slot, 0) + n
            if len(self._counts) > 100_000:  # old windows: keep memory bounded
                current = slot[1]
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= current - 86_400}
        return count


class RedisCounters:
    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def hit(self, key: str, window_s: int, now: float | None = None, n: int = 1) -> int:
        start = window_start(window_s, now)
        name = f"idmx:count:{key}:{start}"
        pipe = self._redis.pipeline(transaction=True)
        pipe.incrby(name, n)
        pipe.expire(name, window_s + 60)
        count, _ = pipe.execute()
        return int(count)


@cache
def _upsert(dialect: str):
    from sqlalchemy import bindparam

    table = m.RateCounter.__table__
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).values(key=bindparam("key"), window_start=bindparam("start"), count=bindparam("n"))
    return stmt.on_conflict_do_update(
        index_elements=[table.c.key, table.c.window_start], set_={"count": table.c.count + stmt.excluded.count}
    ).returning(table.c.count)


class SqlCounters:
    def __init__(self, db: Database) -> None:
        self._db = db

    def hit(self, key: str, window_s: int, now: float | None = None, n: int = 1) -> int:
        stmt = _upsert(self._db.engine.dialect.name)
        with self._db.write_connection() as conn:
            return int(conn.execute(stmt, {"key": key[:200], "start": window_start(window_s, now), "n": n}).scalar_one())

    def purge(self, older_than_s: int = 2 * 86_400) -> int:
        """Forget windows that ended long ago (the longest limit window is a day)."""
        horizon = window_start(1) - older_than_s
        with self._db.write() as s:
            return s.execute(delete(m.RateCounter).where(m.RateCounter.window_start < horizon)).rowcount or 0


def counters_for(redis_url: str, db: Database) -> Counters:
    return RedisCounters(redis_url) if redis_url else SqlCounters(db)
