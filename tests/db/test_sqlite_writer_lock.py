"""SQLite writers queue on a lock shared by the server's worker processes (a file lock beside the
database), not in SQLite's polling busy handler: no "database is locked", no 100 ms sleeps."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from idmx import migrations
from idmx.db import Database

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX only")

TRY_LOCK = textwrap.dedent("""
    import fcntl, os, sys
    fd = os.open(sys.argv[1], os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("held")
    else:
        print("free")
""")

HOLD_AND_WRITE = textwrap.dedent("""
    import sys, time
    from sqlalchemy import text
    from idmx.db import Database
    db = Database(sys.argv[1])
    with db.write() as s:
        s.execute(text("INSERT INTO probe (who, at) VALUES ('child', :t)"), {"t": time.time()})
        print("holding", flush=True)
        time.sleep(0.6)
        print(f"releasing {time.time()!r}", flush=True)  # stamped before the commit lets anyone in
    db.dispose()
""")


def _other_process_sees(lock_file: Path) -> str:
    out = subprocess.run([sys.executable, "-c", TRY_LOCK, str(lock_file)], capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.fixture
def sqlite_db(tmp_path: Path):
    db = Database(f"sqlite:///{tmp_path / 'lock.sqlite3'}")
    migrations.upgrade(db.engine)
    with db.write() as s:
        s.execute(text("CREATE TABLE probe (who TEXT NOT NULL, at REAL NOT NULL)"))
    yield db, tmp_path / "lock.sqlite3.writelock"
    db.dispose()


def test_the_file_lock_is_held_for_the_outermost_write_only(sqlite_db):
    db, lock_file = sqlite_db
    lock = db._write_lock
    with lock:
        assert _other_process_sees(lock_file) == "held"
        with lock:  # re-entrant within the thread
            pass
        assert _other_process_sees(lock_file) == "held"  # the inner exit did not release it
    assert _other_process_sees(lock_file) == "free"


def test_a_write_waits_for_another_process_and_then_succeeds(sqlite_db):
    db, _lock_file = sqlite_db
    child = subprocess.Popen([sys.executable, "-c", HOLD_AND_WRITE, db.url], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "holding"
        with db.write() as s:
            entered = time.time()
            s.execute(text("INSERT INTO probe (who, at) VALUES ('parent', :t)"), {"t": time.time()})
        releasing = float(child.stdout.readline().split()[1])
    finally:
        assert child.wait(timeout=30) == 0
    # The parent's write began only once the child's transaction was ending (queued, not failed).
    assert entered >= releasing
    with db.read() as s:
        rows = s.execute(text("SELECT who FROM probe ORDER BY at")).scalars().all()
    assert rows == ["child", "parent"]


def test_threads_and_processes_write_without_losing_anything(sqlite_db):
    db, _lock_file = sqlite_db
    script = textwrap.dedent("""
        import sys
        from sqlalchemy import text
        from idmx.db import Database
        db = Database(sys.argv[1])
        for i in range(40):
            with db.write() as s:
                s.execute(text("INSERT INTO probe (who, at) VALUES ('proc', 0)"))
        db.dispose()
    """)
    children = [subprocess.Popen([sys.executable, "-c", script, db.url]) for _ in range(2)]

    def writer() -> None:
        for _ in range(40):
            with db.write() as s:
                s.execute(text("INSERT INTO probe (who, at) VALUES ('thread', 0)"))

    threads = [threading.Thread(target=writer) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(c.wait(timeout=60) == 0 for c in children)
    with db.read() as s:
        assert s.execute(text("SELECT who, count(*) FROM probe GROUP BY who ORDER BY who")).all() == [
            ("proc", 80), ("thread", 120)]
