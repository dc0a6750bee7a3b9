"""`idmx export consultation SLUG --out DIR`: the open data of a closed consultation (same code as
the web download, `idmx.exports.consultation_data`)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("consultation")
@click.argument("slug")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write the files into (created if missing).")
@click.option("--zip", "as_zip", is_flag=True, help="Write one zip file DIR/idmx-SLUG-datos.zip instead.")
def export_consultation(slug: str, out: Path, as_zip: bool) -> None:
    """Anonymised open data of a closed consultation, in the files `idmx rank` reads.

    \b
    Writes proposals.csv, respondents.csv (fresh pseudonyms), votes.csv, targets.csv, ranking.csv,
    runs.csv, run_targets.csv, run_results.csv and datapackage.json, then prints the command that
    reproduces the published ranking from them.
    """
    from idmx import migrations
    from idmx.cli import _database, _settings
    from idmx.errors import DomainError
    from idmx.exports import consultation_data as data

    database = _database(_settings())
    try:
        if migrations.is_empty(database.engine):
            raise click.ClickException("the database has no schema yet: run `idmx db upgrade` first")
        try:
            info = data.package_info(database, slug, include_drafts=True)
        except DomainError as exc:
            raise click.ClickException(f"{slug}: {exc.message}") from None
        if as_zip:
            out.mkdir(parents=True, exist_ok=True)
            path = out / info.zip_name
            with open(path, "wb") as fh:
                for chunk in data.zip_chunks(database, info):
                    fh.write(chunk)
            click.echo(f"wrote {path}")
        else:
            for path in data.write_directory(database, info, out):
                click.echo(f"wrote {path}")
        run = None
        if info.published_run_id is not None:
            from idmx.db import models as m

            with database.read() as s:
                run = s.get(m.RankingRun, info.published_run_id)
    finally:
        database.dispose()
    if run is None:
        click.echo("no ranking run after closing yet: ranking.csv is empty (run `idmx rank --consultation "
                   f"{slug}` and export again)")
    else:
        click.echo(f"published ranking: run {run.id}, fingerprint {run.fingerprint}")
        click.echo("reproduce it with: " + data.reproduce_command(info, run))


@click.command("edition")
@click.argument("series")
@click.option("--version", "version", type=int, default=None, help="Version number (default: the latest published).")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "json", "jsonld"]), default="csv", show_default=True)
@click.option("--lang", type=click.Choice(["es", "en"]), default="es", show_default=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to write.")
def export_edition(series: str, version: int | None, fmt: str, lang: str, out: Path) -> None:
    """A published IDMX edition as CSV, XLSX, JSON or a DCAT-AP catalogue (JSON-LD): the web download's code."""
    from idmx.cli import _database, _settings
    from idmx.errors import DomainError
    from idmx.exports.edition_downloads import load
    from idmx.exports.idmx_list import render

    settings = _settings()
    database = _database(settings)
    try:
        try:
            export = load(database, series, version, lang)
        except DomainError as exc:
            raise click.ClickException(f"{series}: {exc.message}") from None
        with open(out, "wb") as fh:
            for chunk in render(export, fmt, settings.public_url, lang):
                fh.write(chunk)
        click.echo(f"{out}: {len(export.rows)} items of {series} v{export.meta.version}")
    finally:
        database.dispose()
