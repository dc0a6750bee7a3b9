"""The database-backed Litestar store (`idmx.web.dbstore`) on both databases: the Store contract, with
expiry, renewal and namespaces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest

from idmx import clock
from idmx.web.dbstore import RENEW_SLACK_S, DatabaseStore
from idmx.web.stores import store_registry


@pytest.fixture
def moved_clock():
    """The app clock, stopped; `move(seconds)` moves it forward."""
    with clock.frozen(datetime(2027, 3, 1, 12, 0, tzinfo=UTC)) as fixed:
        yield lambda seconds: fixed.advance(timedelta(seconds=seconds))


def run(coro_fn, *args):
    return anyio.run(coro_fn, *args)


def test_set_get_delete_and_exists(db):
    store = DatabaseStore(db, "staff_sessions")

    async def scenario():
        assert await store.get("k") is None and not await store.exists("k")
        await store.set("k", "value")
        assert await store.get("k") == b"value" and await store.exists("k")
        assert await store.expires_in("k") is None  # set without expiry
        await store.set("k", b"\x00binary\xff")  # replacing keeps one row
        assert await store.get("k") == b"\x00binary\xff"
        await store.delete("k")
        await store.delete("k")  # deleting what is gone is a no-op
        assert await store.get("k") is None

    run(scenario)


def test_expiry_and_renewal(db, moved_clock):
    store = DatabaseStore(db, "staff_sessions")

    async def scenario():
        await store.set("s", "x", expires_in=timedelta(seconds=600))
        assert 598 <= await store.expires_in("s") <= 600
        moved_clock(500)
        # Renewed: the value now lives another 600 s from here.
        assert await store.get("s", renew_for=600) == b"x"
        assert await store.expires_in("s") > 500
        before = await store.expires_in("s")
        moved_clock(RENEW_SLACK_S / 2)
        await store.get("s", renew_for=600)  # within the slack: no write needed
        assert await store.expires_in("s") == before - RENEW_SLACK_S // 2
        moved_clock(700)
        assert await store.get("s", renew_for=600) is None  # expired: gone, and renewing cannot revive it
        assert not await store.exists("s") and await store.expires_in("s") is None

    run(scenario)


def test_expired_rows_are_purged_by_later_sets(db, moved_clock):
    store = DatabaseStore(db, "staff_sessions")

    async def scenario():
        await store.set("old", "x", expires_in=10)
        moved_clock(20)
        await store.set("new", "y", expires_in=10)

    run(scenario)
    from sqlalchemy import func, select

    from idmx.db import models as m

    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(m.WebStoreEntry)) == 1


def test_namespaces_are_separate_and_delete_all_empties_one(db, settings):
    registry = store_registry(settings, db)
    sessions, other = registry.get("staff_sessions"), registry.get("other")
    assert isinstance(sessions, DatabaseStore)

    async def scenario():
        await sessions.set("k", "a")
        await other.set("k", "b")
        assert await sessions.get("k") == b"a" and await other.get("k") == b"b"
        await other.delete_all()
        assert await other.get("k") is None and await sessions.get("k") == b"a"

    run(scenario)


def test_two_store_objects_on_one_database_see_the_same_values(db):
    """What two app processes do: each has its own store object over the same table."""
    first, second = DatabaseStore(db, "staff_sessions"), DatabaseStore(db, "staff_sessions")

    async def scenario():
        await first.set("shared", "1", expires_in=60)
        assert await second.get("shared") == b"1"
        await second.delete("shared")
        assert await first.get("shared") is None

    run(scenario)
