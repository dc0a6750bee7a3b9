"""What every `idmx` command shares: its settings, a database it closes, and one-line failures.

Commands are thin, like controllers: they parse their options, call a service, and print. A refused
action (`DomainError`, a ranking error) ends the command with its message, not a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from idmx.db import Database
from idmx.errors import DomainError
from idmx.settings import Settings, SettingsError
from idmx.statistics import RankingError

__all__ = ["database", "refusals", "settings"]


def settings(**overrides: object) -> Settings:
    try:
        found = Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    return found.with_(**{k: v for k, v in overrides.items() if v is not None})


@contextmanager
def database(config: Settings | None = None, *, schema: bool = True) -> Iterator[Database]:
    """A small pool for one command, disposed at the end; with `schema`, refuse an empty database."""
    from idmx import migrations

    db = Database((config or settings()).database_url, pool_size=2, max_overflow=2)
    try:
        if schema and migrations.is_empty(db.engine):
            raise click.ClickException("the database has no schema yet: run `idmx db upgrade` first")
        yield db
    finally:
        db.dispose()


@contextmanager
def refusals(prefix: str = "") -> Iterator[None]:
    """Turn a refused action into the command's one-line error."""
    try:
        yield
    except DomainError as exc:
        raise click.ClickException(prefix + exc.message) from None
    except RankingError as exc:
        raise click.ClickException(prefix + str(exc)) from None
