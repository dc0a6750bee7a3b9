"""`idmx`: the command line of the platform.

Every command reads its settings from the environment (see `idmx.settings`) and exits with a
one-line message, not a traceback, when a setting or an input is wrong.
"""

from __future__ import annotations

import os
import subprocess
import sys

import click

from idmx import clock, commandline
from idmx.backup_commands import backup_command, restore_command
from idmx.errors import NotFound
from idmx.exports.commands import export_compliance, export_consultation, export_edition, export_plan, export_plans
from idmx.moderation.commands import duplicates
from idmx.ranking.commands import rank
from idmx.settings import SettingsError, clock_offset


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="idmx")
@click.option("--now", metavar="WHEN", help="Run as if it were this moment (ISO date or date-time, Mexico City "
              "time unless it says otherwise); time keeps running from there. Not in production.")
def main(now: str | None) -> None:
    """IDMX: public consultations that decide which government data gets published.

    Settings come from environment variables: IDMX_DATABASE_URL (default: SQLite file
    ./var/idmx.sqlite3), IDMX_SECRET_KEY (required when IDMX_ENV=production), IDMX_ENV
    (development, test, production), IDMX_HOST, IDMX_PORT, IDMX_WORKERS.
    """
    if now is not None:
        try:
            start = clock.parse_moment(now)
        except ValueError as exc:
            raise click.ClickException(f"--now: {exc}") from None
        # Processes this command starts (app workers, the background worker) keep the same offset.
        os.environ["IDMX_CLOCK_OFFSET"] = str(clock.OffsetClock.starting_at(start).offset.total_seconds())
    try:
        offset = clock_offset()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    if offset is not None:
        clock.install(clock.OffsetClock(offset))


@main.command()
@click.option("--host", help="Address to listen on (default IDMX_HOST or 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default IDMX_PORT or 8000).")
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes (default IDMX_WORKERS or 1).")
@click.option("--demo", is_flag=True, help="On an empty database, also load the demo consultations.")
@click.option("--worker/--no-worker", "with_worker", default=None,
              help="Also run the background worker (default: yes, except with IDMX_ENV=production).")
def serve(host: str | None, port: int | None, workers: int | None, demo: bool, with_worker: bool | None) -> None:
    """Run the web application on the granian ASGI server.

    On first start with an empty database it creates the schema and loads the reference data (and,
    with --demo, the demo consultations). In development it also applies pending migrations; in
    production run `idmx db upgrade` explicitly. Unless told otherwise it starts `idmx worker` beside
    the server (production runs the worker as a service of its own).
    """
    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    from idmx import migrations, seeding

    settings = commandline.settings(host=host, port=port, workers=workers)
    with commandline.database(settings, schema=False) as db:
        if migrations.is_empty(db.engine):
            click.echo("idmx: empty database: creating the schema and loading reference data")
            migrations.upgrade(db.engine)
            seeding.seed_reference(db)
            if demo:
                click.echo("idmx: loading the demo consultations")
                seeding.seed_demo(db)
        elif not settings.production:
            migrations.upgrade(db.engine)
        if demo and not settings.production:
            from idmx.accounts.services import demo_sign_ins

            click.echo(f"idmx: demo staff accounts (new passwords on every start), at {settings.base_url}/staff/login:")
            for role, email, password in demo_sign_ins(db):
                click.echo(f"  {role.value:<22} {email:<36} {password}")
    # The workers build the app from the environment; pass the command-line overrides along.
    os.environ.update(
        IDMX_HOST=settings.host, IDMX_PORT=str(settings.port), IDMX_WORKERS=str(settings.workers)
    )
    background = None
    if with_worker if with_worker is not None else not settings.production:
        background = subprocess.Popen([sys.executable, "-m", "idmx", "worker"])
        click.echo(f"idmx: background worker started (pid {background.pid})")
    click.echo(f"idmx: serving on http://{settings.host}:{settings.port}/ with {settings.workers} worker(s)")
    try:
        Granian(
            "idmx.asgi:app",
            address=settings.host,
            port=settings.port,
            interface=Interfaces.ASGI,
            workers=settings.workers,
            log_access=False,
            # Headers must arrive within 10 s (the body's pieces are bounded by idmx.web.timeouts).
            http1_settings=HTTP1Settings(header_read_timeout=10_000),
        ).serve()
    finally:
        if background is not None:
            background.terminate()
            try:
                background.wait(timeout=10)
            except subprocess.TimeoutExpired:
                background.kill()


@main.command()
def worker() -> None:
    """Run the background jobs (rankings shown by results pages, e-mail) until stopped.

    `idmx serve` starts one on the embedded default; in production run it as a service of its own,
    one per site (see the README, "Running in production").
    """
    from idmx import worker as background

    background.run(commandline.settings())


@main.group()
def db() -> None:
    """Database schema: Alembic migrations are the only way the schema is created or changed."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    _migrate("upgrade", revision)


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION ('base' removes every table)."""
    _migrate("downgrade", revision)


def _migrate(direction: str, revision: str) -> None:
    from idmx import migrations

    with commandline.database(schema=False) as database:
        getattr(migrations, direction)(database.engine, revision)
    click.echo(f"idmx: database at {revision}")


@db.command("tallies")
@click.option("--consultation", "slug", metavar="SLUG", help="Only this consultation (default: every one).")
@click.option("--rebuild", is_flag=True, help="Recompute the tallies from the votes instead of only checking them.")
def db_tallies(slug: str | None, rebuild: bool) -> None:
    """Check the vote tallies the database's triggers keep against the votes, or rebuild them.

    Rebuild after loading votes with triggers off (e.g. PostgreSQL COPY in replica mode); on
    PostgreSQL votes wait while it runs. A check that finds differences exits with status 1 and
    lists them.
    """
    from idmx.ranking import tallies

    with commandline.database() as database:
        try:
            checked, problems = tallies.check(database, slug, recompute=rebuild)
        except NotFound:
            raise click.ClickException(f"no consultation with slug {slug!r}") from None
    for line in problems:
        click.echo(line)
    verb = "rebuilt" if rebuild else "checked"
    click.echo(f"idmx: tallies of {checked} consultation(s) {verb}: "
               + (f"{len(problems)} difference(s)" if problems else "they match the votes"), err=True)
    if problems:
        sys.exit(1)


@main.command()
@click.option("--demo", is_flag=True, help="Also create the demo consultations with synthetic votes.")
def seed(demo: bool) -> None:
    """Load reference data (segments, states, institutions, topics, legal grounds, vote modes).

    Idempotent: running it again changes nothing unless the seed files changed.
    """
    from idmx import seeding

    with commandline.database() as database:
        added = seeding.seed_reference(database)
        click.echo("idmx: reference data: " + ", ".join(f"{k} +{v}" for k, v in added.items()))
        if demo:
            created = seeding.seed_demo(database)
            if created:
                for slug, n in created.items():
                    click.echo(f"idmx: demo consultation {slug}: {n} respondents")
            else:
                click.echo("idmx: demo consultations already present")


@main.command()
@click.option("--email", required=True, help="The staff member's e-mail (their sign-in name).")
@click.option("--role", required=True, type=click.Choice(["central_admin", "institution_admin", "institution_moderator"]),
              help="central_admin: everything; institution_admin: its institution's consultations, moderation and plan; "
                   "institution_moderator: moderation only.")
@click.option("--institution", help="Acronym of the institution (required for institution roles), e.g. SEMARNAT.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Asked for when not given; at least 10 characters.")
def createuser(email: str, role: str, institution: str | None, password: str) -> None:
    """Create a staff account (the password is stored as an argon2id hash only)."""
    from idmx.accounts.services import create_user
    from idmx.enums import Role

    with commandline.database(schema=False) as database, commandline.refusals():
        user_id = create_user(database, email, password, Role(role), institution)
    click.echo(f"idmx: staff user {email} created (id {user_id}, {role})")


@main.command()
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True,
              help="Send at most this many messages in this run.")
def notify(limit: int) -> None:
    """Send the queued e-mails (follow confirmations and item updates) over SMTP.

    Needs IDMX_SMTP_URL: smtp://host:25, smtp+starttls://user:pass@host:587 or smtps://user:pass@host:465
    (sender from ?from=ADDRESS or IDMX_MAIL_FROM). The links inside the e-mails were written with the
    app's IDMX_PUBLIC_URL when the messages were queued. Prints "sent N, failed M, pending K"; exits
    non-zero when the server could not be reached. Safe to run from cron while another run is going.
    The worker does the same every 30 seconds.
    """
    from idmx.notify import services as sender

    settings = commandline.settings()
    try:
        sender.smtp_config(settings)
    except sender.SmtpConfigError as exc:
        raise click.ClickException(str(exc)) from None
    with commandline.database(settings, schema=False) as database:
        report = sender.send_pending(database, settings, limit=limit)
    click.echo(f"idmx: {report}")
    if report.error:
        raise click.ClickException(report.error)


@main.group()
def token() -> None:
    """Per-institution API tokens for the plan-answer endpoints of /api/v1."""


@token.command("create")
@click.option("--institution", required=True, help="Acronym of the institution the token acts for, e.g. SEMARNAT.")
@click.option("--name", required=True, help="What uses the token, e.g. the data catalogue's publishing system.")
def token_create(institution: str, name: str) -> None:
    """Create a token and print it once (only its SHA-256 is stored)."""
    from idmx.apitokens import services as tokens

    with commandline.database(schema=False) as database, commandline.refusals():
        token_id, secret = tokens.create_for_acronym(database, institution, name)
    click.echo(f"idmx: API token {token_id} for {institution.upper()} created; it is shown only now:", err=True)
    click.echo(secret)


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke the token with this number (see the staff page /staff/api-tokens)."""
    from idmx.apitokens import services as tokens

    with commandline.database(schema=False) as database, commandline.refusals():
        with database.write() as s:
            tokens.revoke(s, token_id, actor_id=None)
    click.echo(f"idmx: API token {token_id} revoked")


main.add_command(rank)
main.add_command(duplicates)
main.add_command(backup_command)
main.add_command(restore_command)


@main.group()
def export() -> None:
    """Export open data: CSV, XLSX, JSON files (streamed, spreadsheet-safe, anonymised)."""


export.add_command(export_consultation)
export.add_command(export_edition)
export.add_command(export_plan)
export.add_command(export_plans)
export.add_command(export_compliance)


def run() -> None:  # pragma: no cover - thin wrapper for `python -m idmx`
    try:
        main(standalone_mode=True)
    except SettingsError as exc:
        click.echo(f"idmx: {exc}", err=True)
        sys.exit(2)
