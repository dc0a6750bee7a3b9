"""Engine and transaction policy for SQLite and PostgreSQL.

Driver model: synchronous SQLAlchemy (sqlite3 / psycopg 3) with request handlers run in Litestar's
thread pool. `benchmarks/driver_models.py` measures it against async SQLAlchemy on the vote INSERT hot
path; see the README section "Driver model" for the figures and why.

SQLite: WAL (readers never block the writer), a busy timeout (writers queue instead of failing) and
write transactions that BEGIN IMMEDIATE. A deferred BEGIN takes the write lock only at the first
write, and two such transactions that both read first deadlock into "database is locked" however long
the timeout; IMMEDIATE takes the lock up front so writers simply queue. Reads keep deferred BEGIN so
they never wait for writers.

PostgreSQL: `pool_pre_ping` so a restarted server costs one retry instead of an error page, and an
explicitly sized pool so load does not open hundreds of connections.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import msgspec
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

try:
    import fcntl
except ImportError:  # Windows: processes queue in SQLite's busy handler
    fcntl = None  # type: ignore[assignment]

# How long a write waits for SQLite's one writer (other threads, processes, or another program holding
# the lock: a backup, a migration) before giving up with `WriteBusy` or "database is locked", which
# the app answers with 503 and Retry-After: a few seconds, so that waiting writes never pile up.
WRITE_WAIT_S = 5.0
SQLITE_BUSY_TIMEOUT_MS = int(WRITE_WAIT_S * 1000)
_BEGIN = "idmx_sqlite_begin"


def _json_dumps(value: object) -> str:
    """JSON columns' serializer: msgspec writes what ``json.dumps`` would read back as the same
    values, about ten times faster (a ranking run stores tens of thousands of figures), and writes
    NaN as null rather than the invalid token ``NaN``."""
    return msgspec.json.encode(value).decode()


# A request waits this long for a free connection from the pool, then answers 503 (SQLAlchemy's default is 30 s).
POOL_TIMEOUT_S = 5.0


def make_engine(url: str, *, pool_size: int = 20, max_overflow: int = 10, echo: bool = False,
                lock_timeout_ms: int | None = None) -> Engine:
    """The engine. ``lock_timeout_ms`` (PostgreSQL; the web app sets it) bounds how long a statement
    waits for a row or table lock before failing, so a request never hangs behind a long lock."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            from pathlib import Path

            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=POOL_TIMEOUT_S,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            json_serializer=_json_dumps,
        )
        _sqlite_policy(engine)
        return engine
    # A server that stops answering is noticed within seconds: connecting gives up after 5 s, and TCP
    # keepalives end a connection whose peer went silent (a query would otherwise wait forever).
    connect_args: dict[str, object] = {"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 10,
                                       "keepalives_interval": 5, "keepalives_count": 3}
    if lock_timeout_ms is not None:
        connect_args["options"] = f"-c lock_timeout={int(lock_timeout_ms)}"
    return create_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=POOL_TIMEOUT_S,
        pool_recycle=1800,
        connect_args=connect_args,
        json_serializer=_json_dumps,
    )


def _sqlite_policy(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Take transaction control away from the sqlite3 module so our BEGIN is the one that runs.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode up to the last checkpoint
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        mode = conn.get_execution_options().get(_BEGIN, "DEFERRED")
        # A write waits for SQLite's lock only as long as its turn left it (`_WriterLock`): the whole
        # wait stays within WRITE_WAIT_S however it was spent.
        wait_ms = _write_budget_ms() if mode == "IMMEDIATE" else SQLITE_BUSY_TIMEOUT_MS
        conn.exec_driver_sql(f"PRAGMA busy_timeout={wait_ms}")
        conn.exec_driver_sql(f"BEGIN {mode}")


class WriteBusy(RuntimeError):
    """The SQLite writer stayed busy longer than `WRITE_WAIT_S`: nothing was written."""


_deadline = threading.local()  # when the current thread's write must give up (monotonic seconds)


def _write_budget_ms() -> int:
    deadline = getattr(_deadline, "at", None)
    if deadline is None:
        return SQLITE_BUSY_TIMEOUT_MS
    return max(1, int((deadline - time.monotonic()) * 1000))


def _sqlite_file(url: str) -> str | None:
    database = make_url(url).database
    return None if not database or database == ":memory:" or database.startswith("file:") else database


class _WriterLock:
    """SQLite has one writer at a time; this queues writers before they ask SQLite.

    Threads of this process queue on a re-entrant lock, other processes (the server's workers) on
    ``flock`` of a file beside the database. Both wake the next waiter the moment the lock is
    released. SQLite's own busy handler instead polls with back-off sleeps of up to 100 ms, which
    put the p99 of concurrent votes at 440 ms with two worker processes (1 s with threads alone).
    Re-entrant so that a write nested in a write fails in SQLite (visibly) rather than deadlocking
    here; the file lock is taken by the outermost level only. Writers that do not use this lock
    (another program, ``sqlite3`` on the command line) still queue in the busy handler.

    Every wait is bounded: a writer gets its turn, the file lock and SQLite's lock within
    `WRITE_WAIT_S` in all, or `WriteBusy` (or SQLite's "database is locked"), which the app answers
    with 503; so writers stuck behind another program never pile up and reads go on meanwhile.
    """

    def __init__(self, database_file: str | None) -> None:
        self._threads = threading.RLock()
        self._depth = 0
        self._path = f"{database_file}.writelock" if database_file and fcntl is not None else None
        # flock belongs to an open file description, which a forked child would share with its
        # parent: each process opens its own.
        self._fd: int | None = None
        self._held: int | None = None  # the description holding the file lock: ours, or a waiter's
        self._pid = 0

    def __enter__(self) -> None:
        deadline = time.monotonic() + WRITE_WAIT_S
        if not self._threads.acquire(timeout=WRITE_WAIT_S):
            raise WriteBusy(f"no turn to write within {WRITE_WAIT_S:g} s")
        if self._depth == 0:
            _deadline.at = deadline
        try:
            if self._depth == 0 and self._path is not None:
                if self._pid != os.getpid():
                    self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                    self._pid = os.getpid()
                self._lock_file(deadline)
        except BaseException:
            if self._depth == 0:
                _deadline.at = None
            self._threads.release()
            raise
        self._depth += 1

    def _lock_file(self, deadline: float) -> None:
        """flock with a deadline. flock itself has none, and polling it let this process's next
        writer (handed the thread lock at once) win every time against a poller of the other process,
        whose writers then waited for this one's whole queue (p99 225 ms instead of 100). So a busy
        lock is waited for in the kernel's queue, by a helper thread on a file description of its own,
        for as long as the deadline allows; a wait given up on releases the lock the moment it gets it."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._held = self._fd
            return
        except BlockingIOError:
            pass
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        got, guard, abandoned = threading.Event(), threading.Lock(), []

        def wait() -> None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError:
                os.close(fd)
                return
            with guard:
                if not abandoned:
                    got.set()
                    return
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

        threading.Thread(target=wait, name="idmx-write-lock", daemon=True).start()
        if not got.wait(max(0.0, deadline - time.monotonic())):
            with guard:
                if not got.is_set():
                    abandoned.append(True)
                    raise WriteBusy(f"another process kept the write lock for more than {WRITE_WAIT_S:g} s")
        self._held = fd

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd, self._pid = None, 0

    def __exit__(self, *_exc) -> None:
        self._depth -= 1
        if self._depth == 0:
            _deadline.at = None
        try:
            if self._depth == 0 and self._held is not None:
                held, self._held = self._held, None
                fcntl.flock(held, fcntl.LOCK_UN)
                if held != self._fd:
                    os.close(held)
        finally:
            self._threads.release()


class Database:
    """One engine plus the two ways the app touches it: read, or write in one transaction."""

    def __init__(self, url: str, *, pool_size: int = 20, max_overflow: int = 10, echo: bool = False,
                 lock_timeout_ms: int | None = None):
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size, max_overflow=max_overflow, echo=echo,
                                  lock_timeout_ms=lock_timeout_ms)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        write_engine = self.engine.execution_options(**{_BEGIN: "IMMEDIATE"}) if self.is_sqlite else self.engine
        self._write_engine = write_engine
        self._write_sessions = sessionmaker(write_engine, expire_on_commit=False, autoflush=False)
        self._write_lock = _WriterLock(_sqlite_file(url)) if self.is_sqlite else None

    @contextmanager
    def read(self) -> Iterator[Session]:
        # close() ends the transaction without expiring loaded objects, so templates can use them.
        with self._sessions() as session:
            yield session

    def _writer(self):
        return self._write_lock if self._write_lock is not None else nullcontext()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose work commits when the block ends and rolls back on any exception."""
        with self._writer(), self._write_sessions() as session, session.begin():
            yield session

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A Core connection in one write transaction: for hot paths that need no ORM."""
        with self._writer(), self._write_engine.begin() as conn:
            yield conn

    def ping(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT 1")).scalar() == 1

    def dispose(self) -> None:
        self.engine.dispose()
        if self._write_lock is not None:
            self._write_lock.close()
