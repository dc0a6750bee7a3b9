"""`idmx backup` and `idmx restore`: a consistent copy of the database taken while the app keeps running,
and putting one back.

SQLite: SQLite's online backup (``sqlite3.Connection.backup``) copies the file in one step inside a read
transaction, so the copy is the database as of one moment; in WAL mode writers go on meanwhile.
PostgreSQL: ``pg_dump --format=custom`` (one snapshot, writers go on) and ``pg_restore``. Either way the
copy is written beside its destination under a temporary name and renamed when complete, so a backup
file is never half written, whatever interrupts it.

Every failure is a `BackupError` whose message is one line for a human.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import URL, make_url

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
TOOL_TIMEOUT_S = 6 * 3600  # a dump that takes longer than this is stuck, not slow


class BackupError(Exception):
    """A backup or restore could not be done; the message is one line."""


@dataclass(frozen=True)
class Revision:
    """Where a database's schema stands against the migrations this version of the app ships."""

    current: str | None
    head: str
    known: bool  # False: written by a newer version of the app than this one

    @property
    def at_head(self) -> bool:
        return self.current == self.head


def backup(database_url: str, out: Path) -> int:
    """Write a copy of the database to `out` (replacing it when complete); its size in bytes."""
    url = make_url(database_url)
    if out.is_dir():
        raise BackupError(f"{out} is a folder; give the backup file's name")
    if not out.parent.is_dir():
        raise BackupError(f"the folder {out.parent} does not exist")
    with _temporary_beside(out) as tmp:
        if url.get_backend_name() == "sqlite":
            _sqlite_backup(_sqlite_path(url), tmp, out)
        else:
            _run([_tool("pg_dump"), "--format=custom", "--no-password", f"--file={tmp}", f"--dbname={_libpq(url)}"],
                 url, "pg_dump")
        os.replace(tmp, out)
    _sync_folder(out.parent)
    return out.stat().st_size


def restore(database_url: str, source: Path, *, force: bool = False) -> None:
    """Put the backup `source` into the database, which must hold no tables unless `force`."""
    url = make_url(database_url)
    sqlite = url.get_backend_name() == "sqlite"
    try:
        with open(source, "rb") as fh:
            magic = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise BackupError(f"cannot read {source}: {exc.strerror or exc}") from None
    if sqlite and not magic.startswith(SQLITE_MAGIC):
        kind = "a PostgreSQL dump" if magic.startswith(PG_DUMP_MAGIC) else "not a SQLite database"
        raise BackupError(f"{source} is {kind}; IDMX_DATABASE_URL is a SQLite database")
    if not sqlite and not magic.startswith(PG_DUMP_MAGIC):
        kind = "a SQLite database" if magic.startswith(SQLITE_MAGIC) else "not a pg_dump custom-format file"
        raise BackupError(f"{source} is {kind}; IDMX_DATABASE_URL is a PostgreSQL database")
    tables = _tables(url)
    if tables and not force:
        raise BackupError(f"{_shown(url)} is not empty (tables: {len(tables)}); restoring replaces what it holds: "
                          "add --force to do so")
    if sqlite:
        _sqlite_restore(source, _sqlite_path(url))
    else:
        # One transaction: a restore that fails half way leaves the database as it was.
        _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction", "--no-password",
              f"--dbname={_libpq(url)}", str(source)], url, "pg_restore")


def revision(database_url: str) -> Revision:
    """The schema revision a database is at, and the newest this app knows (``idmx db upgrade`` moves to it)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from idmx import migrations

    engine = create_engine(database_url)
    try:
        script = ScriptDirectory.from_config(migrations.alembic_config(engine))
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    try:
        known = current is None or script.get_revision(current) is not None
    except CommandError:
        known = False
    return Revision(current, script.get_current_head() or "", known)


# --- SQLite ---------------------------------------------------------------------------------------


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupError(f"IDMX_DATABASE_URL {url} names no SQLite file to back up or restore")
    return Path(url.database)


def _sqlite_backup(path: Path, tmp: Path, out: Path) -> None:
    if not path.is_file():
        raise BackupError(f"the SQLite database {path} does not exist")
    if out.resolve() == path.resolve():
        raise BackupError(f"{out} is the database itself; write the backup somewhere else")
    try:
        # mode=rw: never create a database that is not there; read-only connections cannot open a WAL
        # database whose -shm file is missing. timeout: wait while a checkpoint holds the file.
        with _sqlite(_uri(path, "rw"), uri=True, timeout=30) as source, _sqlite(tmp) as copy:
            source.backup(copy)  # all pages in one step: one read transaction, one moment
            _check(copy, out)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite backup of {path} failed: {exc}") from None
    _sync(tmp)


def _sqlite_restore(source: Path, path: Path) -> None:
    if not path.parent.is_dir():
        raise BackupError(f"the folder {path.parent} does not exist")
    try:
        with _sqlite(_uri(source, "ro"), uri=True) as backup_file:
            _check(backup_file, source)
            # Through SQLite, not by replacing the file: the live database's -wal and -shm files and any
            # open connection stay consistent with what is written, and a failure leaves it as it was.
            with _sqlite(path, timeout=30) as target:
                backup_file.backup(target)
                target.execute("PRAGMA journal_mode=WAL")  # as the app keeps it (`idmx.db.engine`)
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite restore into {path} failed: {exc}") from None


@contextmanager
def _sqlite(target: str | Path, **kwargs) -> Iterator[sqlite3.Connection]:
    # sqlite3's own context manager commits but does not close.
    conn = sqlite3.connect(target, isolation_level=None, **kwargs)
    try:
        yield conn
    finally:
        conn.close()


def _uri(path: Path, mode: str) -> str:
    return f"{path.resolve().as_uri()}?mode={mode}"  # percent-encoded: a '?' or '#' in a name stays a name


def _check(conn: sqlite3.Connection, name: Path) -> None:
    result = conn.execute("PRAGMA quick_check").fetchone()[0]
    if result != "ok":
        raise BackupError(f"{name} is damaged: {result}")


# --- PostgreSQL -----------------------------------------------------------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} not found on PATH: install the PostgreSQL client tools "
                          "(Debian: apt-get install postgresql-client), the same major version as the server or newer")
    return found


def _libpq(url: URL) -> str:
    """The URL as pg_dump reads it, without the password (that goes in PGPASSWORD: not in `ps`)."""
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)


def _run(command: list[str], url: URL, tool: str) -> None:
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise BackupError(f"{tool} did not finish within {TOOL_TIMEOUT_S // 3600} hours") from None
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        # pg_dump and pg_restore say what went wrong on their first "error:" line.
        reason = next((line for line in lines if "error:" in line), lines[0] if lines else f"exit {done.returncode}")
        raise BackupError(f"{tool} failed on {_shown(url)}: {reason.split('error:', 1)[-1].strip()}")


# --- both -----------------------------------------------------------------------------------------


def _tables(url: URL) -> list[str]:
    if url.get_backend_name() == "sqlite":
        path = _sqlite_path(url)
        if not path.exists():
            return []
        try:
            with _sqlite(_uri(path, "rw"), uri=True, timeout=30) as conn:
                return [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        except sqlite3.Error as exc:
            raise BackupError(f"cannot read {path}: {exc}") from None
    engine = create_engine(url, connect_args={"connect_timeout": 10})
    try:
        return inspect(engine).get_table_names()
    except Exception as exc:  # an unreachable server, a missing database: say which, in one line
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
        raise BackupError(f"cannot open {_shown(url)}: {detail}") from None
    finally:
        engine.dispose()


def _shown(url: URL) -> str:
    """The URL as the operator wrote it: no password, no SQLAlchemy driver name."""
    if url.get_backend_name() == "postgresql":
        url = url.set(drivername="postgresql")
    return url.render_as_string(hide_password=True)


@contextmanager
def _temporary_beside(out: Path) -> Iterator[Path]:
    """An empty file in `out`'s folder (so the rename is atomic), removed unless renamed. Readable by its
    owner only, as the backup will be: it holds staff password hashes and respondents' keys."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.partial")
    with suppress(FileNotFoundError):
        tmp.unlink()  # left by an earlier run that was killed
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise BackupError(f"cannot write in {out.parent}: {exc.strerror or exc}") from None
    try:
        yield tmp
    finally:
        with suppress(FileNotFoundError):
            tmp.unlink()


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_folder(folder: Path) -> None:
    """The rename itself survives a power cut only once the folder is synced."""
    with suppress(OSError):  # not every file system lets a folder be synced
        _sync(folder)
