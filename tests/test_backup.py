"""`idmx backup` and `idmx restore` on SQLite and PostgreSQL: a copy taken while votes and proposals keep
being written holds one consistent moment, and restores into a fresh database at the newest schema."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import select

from idmx import backup as backups
from idmx import clock, migrations
from idmx.cli import main
from idmx.consultations import voting
from idmx.db import Database
from idmx.db import models as m
from idmx.ranking import tallies
from tests import factories as f


class Writer(threading.Thread):
    """Keeps writing, one committed transaction at a time: a new respondent's vote, and every third time a
    new proposal. `written` lists what was committed, in order."""

    def __init__(self, db: Database, slug: str, consultation_id: int, proposal_ids: list[int]) -> None:
        super().__init__(daemon=True)
        self.db, self.slug, self.consultation_id, self.proposal_ids = db, slug, consultation_id, list(proposal_ids)
        self.written: list[tuple[str, object]] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            i = 0
            while not self.stop.is_set():
                if i % 3 == 2:
                    (pid,) = f.proposals(self.db, self.consultation_id, [f"Propuesta escrita durante la copia {i}"])
                    self.proposal_ids.append(pid)
                    self.written.append(("proposal", pid))
                else:
                    token_hash = hashlib.sha256(f"writer {i}".encode()).hexdigest()
                    pid = self.proposal_ids[i % len(self.proposal_ids)]
                    voting.cast(self.db, self.slug, pid, token_hash, {"support": "1"}, clock.now())
                    self.written.append(("vote", (token_hash, pid)))
                i += 1
        except BaseException as exc:  # the test reports it; a dead writer would make the test pass vacuously
            self.error = exc


def _contents(db: Database) -> dict[str, set]:
    with db.read() as s:
        return {
            "consultation": set(s.execute(select(m.Consultation.id, m.Consultation.slug, m.Consultation.title_es))),
            "proposal": set(s.execute(select(m.Proposal.id, m.Proposal.title))),
            "vote": set(s.execute(select(m.Respondent.token_hash, m.Vote.proposal_id, m.Vote.value)
                                  .join(m.Respondent, m.Respondent.id == m.Vote.respondent_id))),
            "segment": set(s.execute(select(m.Segment.id, m.Segment.code))),
        }


def _committed(contents: dict[str, set], writer: Writer) -> list[bool]:
    """For each of the writer's writes, in order: whether `contents` holds it."""
    proposals = {row.id for row in contents["proposal"]}
    votes = {(row.token_hash, row.proposal_id) for row in contents["vote"]}
    return [(value in proposals) if kind == "proposal" else (value in votes) for kind, value in writer.written]


def _at_head(url: str) -> bool:
    db = Database(url, pool_size=1, max_overflow=0)
    try:
        head = ScriptDirectory.from_config(migrations.alembic_config(db.engine)).get_current_head()
        with db.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision() == head
    finally:
        db.dispose()


def _idmx(tmp_path: Path, database_url: str, *args: str):
    env = {"IDMX_DATABASE_URL": database_url, "IDMX_VAR_DIR": str(tmp_path), "IDMX_SECRET_KEY": "k" * 40,
           "IDMX_ENV": "test"}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def fresh_url(backend) -> str:
    """Where to restore: a new, empty database on the test's backend (dropped with the others at the end)."""
    return backend.new_url()


def test_a_backup_taken_during_writes_restores_one_consistent_moment(db, tmp_path, fresh_url):
    c = f.consultation(db)
    ids = f.proposals(db, c.id, f.TITLES)
    for i in range(30):
        voting.cast(db, c.slug, ids[i % len(ids)], hashlib.sha256(f"before {i}".encode()).hexdigest(),
                    {"support": "1"}, clock.now())
    writer = Writer(db, c.slug, c.id, ids)
    writer.start()
    try:
        while len(writer.written) < 20 and writer.is_alive():  # writing before the backup starts...
            writer.stop.wait(0.01)
        before = _contents(db)
        started_with = len(writer.written)
        out = tmp_path / "idmx.backup"
        made = _idmx(tmp_path, db.url, "backup", "--out", str(out))
        during = len(writer.written) - started_with
        assert during > 0, "the writer must keep writing while the backup is taken"
        while len(writer.written) < started_with + during + 5 and writer.is_alive():  # ...and after it ended
            writer.stop.wait(0.01)
    finally:
        writer.stop.set()
        writer.join(timeout=30)
    assert writer.error is None, repr(writer.error)
    assert made.exit_code == 0, made.output
    assert made.output.startswith(f"idmx: backup written to {out} (") and out.stat().st_size > 0
    assert out.stat().st_mode & 0o077 == 0  # password hashes inside: the owner's only
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]

    restored = _idmx(tmp_path, fresh_url, "restore", "--from", str(out))
    assert restored.exit_code == 0, restored.output
    assert "this version's newest" in restored.output
    copy = Database(fresh_url, pool_size=2, max_overflow=0)
    try:
        contents = _contents(copy)
        for table, rows in before.items():  # every row there before the backup started, as it was
            assert rows <= contents[table], (table, sorted(rows - contents[table])[:5])
        # One moment: the writer's writes up to some point and none after it, even though it went on
        # writing while the copy was taken, and the tallies the database's triggers keep agree with it.
        committed = _committed(contents, writer)
        k = committed.count(True)
        assert k >= started_with and committed == [True] * k + [False] * (len(committed) - k), committed
        assert tallies.check(copy) == (1, [])
    finally:
        copy.dispose()
    assert _at_head(fresh_url)

    # Once it holds tables, restoring over it is refused...
    again = _idmx(tmp_path, fresh_url, "restore", "--from", str(out))
    assert again.exit_code == 1
    assert again.output.strip().splitlines()[-1].startswith("Error: ")
    assert "add --force" in again.output and len(again.output.strip().splitlines()) == 1
    # ...unless forced: then it is the backup again, not the backup added to what was there.
    copy = Database(fresh_url, pool_size=1, max_overflow=0)
    try:
        f.proposals(copy, c.id, ["Escrita después de restaurar"])
    finally:
        copy.dispose()
    forced = _idmx(tmp_path, fresh_url, "restore", "--from", str(out), "--force")
    assert forced.exit_code == 0, forced.output
    copy = Database(fresh_url, pool_size=1, max_overflow=0)
    try:
        assert _contents(copy) == contents
    finally:
        copy.dispose()


def test_without_pg_dump_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(backups.BackupError) as err:
        backups.backup("postgresql+psycopg://postgres@127.0.0.1:5432/idmx", tmp_path / "idmx.backup")
    assert str(err.value).startswith("pg_dump not found on PATH: install the PostgreSQL client tools")
    assert not list(tmp_path.iterdir())


def test_a_backup_of_the_other_kind_is_refused_with_one_line(tmp_path):
    dump = tmp_path / "idmx.dump"
    dump.write_bytes(b"PGDMP\x01\x0e\x00" + b"\x00" * 100)
    result = _idmx(tmp_path, f"sqlite:///{tmp_path / 'new.sqlite3'}", "restore", "--from", str(dump))
    assert result.exit_code == 1
    assert result.output == f"Error: {dump} is a PostgreSQL dump; IDMX_DATABASE_URL is a SQLite database\n"
    assert not (tmp_path / "new.sqlite3").exists()


def test_backing_up_a_missing_sqlite_file_creates_nothing(tmp_path):
    result = _idmx(tmp_path, f"sqlite:///{tmp_path / 'missing.sqlite3'}", "backup", "--out", str(tmp_path / "b"))
    assert result.exit_code == 1
    assert result.output == f"Error: the SQLite database {tmp_path / 'missing.sqlite3'} does not exist\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == []
