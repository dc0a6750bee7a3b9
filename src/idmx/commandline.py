"""What every `idmx` command shares: its settings, a database it closes, and one-line failures.

Commands are thin, like controllers: they parse their options, call a service, and print. A refused
action (`DomainError`, a ranking error) ends the command with its message, not a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from idmx.db import Database
from idmx.db.faults import unavailability
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

    url = (config or settings()).database_url
    try:
        db = Database(url, pool_size=2, max_overflow=2)
    except OSError as exc:  # the SQLite file's folder cannot be created
        raise click.ClickException(f"cannot open the database {_shown(url)}: {exc.strerror or exc}") from None
    try:
        if schema and migrations.is_empty(db.engine):
            raise click.ClickException("the database has no schema yet: run `idmx db upgrade` first")
        yield db
    except Exception as exc:
        kind = unavailability(exc)
        if kind is None:
            raise
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
        raise click.ClickException(f"the database {_shown(url)} is {_KINDS[kind]}: {detail}") from None
    finally:
        db.dispose()


_KINDS = {"busy": "busy (locked by another program)", "unavailable": "not available", "full": "full",
          "read_only": "read-only"}


def _shown(url: str) -> str:
    """The URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@contextmanager
def refusals(prefix: str = "") -> Iterator[None]:
    """Turn a refused action into the command's one-line error."""
    try:
        yield
    except DomainError as exc:
        raise click.ClickException(prefix + exc.message) from None
    except RankingError as exc:
        raise click.ClickException(prefix + str(exc)) from None
