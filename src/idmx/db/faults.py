"""When the database cannot serve: which errors mean "try again shortly", and one log line per incident.

The web app answers them with 503 and Retry-After instead of 500 (`idmx.web.errors`); commands with a
one-line message (`idmx.commandline`).

`unavailability` recognises the errors that mean "try again shortly", not "this request is wrong":
PostgreSQL gone or refusing connections, the connection pool exhausted, SQLite's writer lock held too
long by someone else (`idmx.db.engine.WriteBusy`, or SQLite's own "database is locked"), a full disk, a
read-only data folder. Every write runs in one transaction, so such a failure rolls back whole:
nothing was saved, and the page says so. The pool reconnects by itself (``pool_pre_ping``), so service
comes back without a restart.

`Incidents` keeps the log readable during an outage: the first failure of a kind is logged (one line,
no traceback), then a summary at most once a minute while it lasts.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import exc as sa_exc

from idmx.db.engine import WriteBusy

log = logging.getLogger("idmx")

# Seconds a client should wait before retrying, by kind.
RETRY_AFTER = {"busy": 2, "unavailable": 10, "full": 60, "read_only": 60}

_SQLITE_MESSAGES = (
    ("database is locked", "busy"),
    ("database table is locked", "busy"),
    ("database or disk is full", "full"),
    ("disk i/o error", "full"),  # what SQLite reports when a write fails for lack of space, among others
    ("attempt to write a readonly database", "read_only"),
    ("readonly database", "read_only"),
    ("unable to open database file", "unavailable"),
)


def unavailability(exc: BaseException) -> str | None:
    """The kind of outage an exception means ("busy", "unavailable", "full", "read_only"), or None when
    it is a fault of its own (a bug, a constraint) and answers 500."""
    if isinstance(exc, WriteBusy):
        return "busy"
    if isinstance(exc, sa_exc.TimeoutError):  # no connection free in the pool within its timeout
        return "busy"
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return "unavailable"
        orig = exc.orig
        if isinstance(orig, sqlite3.Error):
            text = str(orig).lower()
            for needle, kind in _SQLITE_MESSAGES:
                if needle in text:
                    return kind
            return None
        if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
            return _postgres_kind(orig)
        return None
    if isinstance(exc, OSError) and exc.errno in (28, 30):  # ENOSPC, EROFS: writing beside the database
        return "full" if exc.errno == 28 else "read_only"
    return None


def _postgres_kind(orig: BaseException | None) -> str:
    sqlstate = getattr(getattr(orig, "diag", None), "sqlstate", None) or getattr(orig, "sqlstate", None) or ""
    if sqlstate in ("53100",):  # disk_full
        return "full"
    if sqlstate in ("25006",):  # read_only_sql_transaction (a standby, or default_transaction_read_only)
        return "read_only"
    if sqlstate in ("55P03", "57014", "40P01"):  # lock_not_available, query_canceled (timeouts), deadlock
        return "busy"
    return "unavailable"  # connection refused or lost, server shutting down, too many connections


@dataclass
class Incidents:
    """Logs an outage once when it starts and then at most every `every_s` seconds, with a count."""

    every_s: float = 60.0
    _last: dict[str, float] = field(default_factory=dict)
    _suppressed: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, kind: str, exc: BaseException, where: str) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self.every_s:
                self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
                return
            more = self._suppressed.pop(kind, 0)
            self._last[kind] = now
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300] if str(exc) else type(exc).__name__
        suffix = f" ({more} more requests refused since the last report)" if more else ""
        log.warning("database %s: answering 503 (%s: %s) on %s%s", kind, type(exc).__name__, detail, where, suffix)


INCIDENTS = Incidents()
