"""Alembic driven from code: `idmx db upgrade`, first start of `idmx serve`, and the tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, inspect

from idmx.paths import migrations_dir


class MigrationError(RuntimeError):
    pass


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


@contextmanager
def _connection(engine: Engine) -> Iterator[Connection]:
    """A connection for migrating, in one transaction.

    SQLite's batch mode rebuilds a table (copy, drop, rename). With foreign keys enforced, dropping
    the old table would cascade-delete every row that references it (votes, exposures...), so
    enforcement is switched off for the migration and the references are checked afterwards.
    PRAGMA foreign_keys is a no-op inside a transaction, hence the raw connection before BEGIN.
    """
    with engine.connect() as conn:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                yield conn
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise MigrationError(f"migration left {len(broken)} broken references, e.g. {broken[0]}")
        finally:
            if sqlite:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config(engine)
    with _connection(engine) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    cfg = alembic_config(engine)
    with _connection(engine) as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def is_empty(engine: Engine) -> bool:
    return "alembic_version" not in inspect(engine).get_table_names()
