"""`idmx backup` and `idmx restore` (`idmx.backup` does the work), on the database of IDMX_DATABASE_URL."""

from __future__ import annotations

from pathlib import Path

import click

from idmx import backup as backups
from idmx import commandline

FILE = click.Path(dir_okay=False, path_type=Path)


@click.command("backup")
@click.option("--out", required=True, type=FILE, help="The backup file to write (replaced when complete).")
def backup_command(out: Path) -> None:
    """Copy the database to a file while the app keeps running.

    SQLite: an online copy of the database file (open it with sqlite3 to look inside). PostgreSQL:
    pg_dump's custom format (needs pg_dump on PATH). The file appears only once complete; restore it
    with `idmx restore --from FILE`.
    """
    settings = commandline.settings()
    try:
        size = backups.backup(settings.database_url, out)
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"idmx: backup written to {out} ({size / 1_000_000:.1f} MB)")


@click.command("restore")
@click.option("--from", "source", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A file written by `idmx backup`.")
@click.option("--force", is_flag=True, help="Replace what the database holds (refused without it unless the "
              "database has no tables).")
def restore_command(source: Path, force: bool) -> None:
    """Put a backup written by `idmx backup` into the database.

    Stop the app processes and the worker first. The database must be empty (a new SQLite file, or a
    database just made with createdb) unless --force is given. PostgreSQL: needs pg_restore on PATH and
    restores in one transaction, so a failure leaves the database as it was. Afterwards, run
    `idmx db upgrade` if the backup is older than this version of the app (the command says so).
    """
    settings = commandline.settings()
    try:
        backups.restore(settings.database_url, source, force=force)
        schema = backups.revision(settings.database_url)
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    if not schema.known:
        click.echo(f"idmx: restored {source}; the schema is at revision {schema.current}, which this version "
                   "of the app does not know: run the version that wrote the backup")
    elif schema.at_head:
        click.echo(f"idmx: restored {source}; the schema is at revision {schema.current}, this version's newest")
    else:
        click.echo(f"idmx: restored {source}; the schema is at revision {schema.current}: run `idmx db upgrade` "
                   f"to bring it to {schema.head}")
