"""`idmx export ...`: every public download as a file, written by the same code as the web downloads:
a closed consultation's open data (`idmx.exports.services`), an IDMX edition, plans and compliance."""

from __future__ import annotations

from pathlib import Path

import click

from idmx import commandline


@click.command("consultation")
@click.argument("slug")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write the files into (created if missing).")
@click.option("--zip", "as_zip", is_flag=True, help="Write one zip file DIR/idmx-SLUG-datos.zip instead.")
def export_consultation(slug: str, out: Path, as_zip: bool) -> None:
    """Anonymised open data of a closed consultation, in the files `idmx rank` reads.

    \b
    Writes proposals.csv, respondents.csv (protected: every class of at least IDMX_DISCLOSURE_K
    respondents), cells.csv, statistics.csv, targets.csv, ranking.csv, runs.csv, run_targets.csv,
    run_results.csv and datapackage.json, then prints the command that reproduces the published
    ranking from them, k and the residual disclosure risk.
    """
    from idmx.exports import services as data

    settings = commandline.settings()
    with commandline.database(settings) as database:
        with commandline.refusals(f"{slug}: "):
            info = data.package_info(database, slug, include_drafts=True, k=settings.disclosure_k)
        if as_zip:
            out.mkdir(parents=True, exist_ok=True)
            path = out / info.zip_name
            with open(path, "wb") as fh:
                fh.writelines(data.zip_chunks(database, info))
            click.echo(f"wrote {path}")
        else:
            for path in data.write_directory(database, info, out):
                click.echo(f"wrote {path}")
        run = data.published_run(database, info)
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
    from idmx.idmx_list.export import render
    from idmx.idmx_list.services import load

    settings = commandline.settings()
    with commandline.database(settings) as database, commandline.refusals(f"{series}: "):
        export = load(database, series, version, lang)
        with open(out, "wb") as fh:
            fh.writelines(render(export, fmt, settings.base_url, lang))
    click.echo(f"{out}: {len(export.rows)} items of {series} v{export.meta.version}")


# --- plans and compliance: the same functions as /institutions/{ACRONYM}/plan.*, /institutions/plans.* and
# /monitoring.* (and the central export page, which links to them) ---------------------------------------------

_TABLE_FORMATS = click.Choice(["csv", "xlsx", "json"])


def _write_table(build, lang: str, out: Path, what: str) -> str:
    """Run `build(database)` (which returns an `idmx.formats.download.Download`) in `lang` and write its bytes."""
    from idmx import i18n

    token = i18n.activate(lang)  # labels, headers and names in the chosen language, as the web does per request
    try:
        with commandline.database() as database, commandline.refusals(f"{what}: "):
            download = build(database)
            with open(out, "wb") as fh:
                fh.writelines(download.body)
            return download.filename
    finally:
        i18n.deactivate(token)


@click.command("plan")
@click.argument("acronym")
@click.option("--format", "fmt", type=_TABLE_FORMATS, default="csv", show_default=True)
@click.option("--lang", type=click.Choice(["es", "en"]), default="es", show_default=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to write.")
def export_plan(acronym: str, fmt: str, lang: str, out: Path) -> None:
    """An institution's open-up plan as CSV, XLSX or JSON: the web download's code."""
    from idmx.institutions.services import plan_download

    _write_table(lambda db: plan_download(db, acronym, fmt), lang, out, acronym)
    click.echo(f"wrote {out} (plan of {acronym.upper()})")


@click.command("plans")
@click.option("--format", "fmt", type=_TABLE_FORMATS, default="csv", show_default=True)
@click.option("--lang", type=click.Choice(["es", "en"]), default="es", show_default=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to write.")
def export_plans(fmt: str, lang: str, out: Path) -> None:
    """Every institution's open-up plan in one file (a column names the institution): the web download's code."""
    from idmx.institutions.services import plan_download

    _write_table(lambda db: plan_download(db, None, fmt), lang, out, "plans")
    click.echo(f"wrote {out} (every institution's plan)")


@click.command("compliance")
@click.option("--format", "fmt", type=_TABLE_FORMATS, default="csv", show_default=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to write.")
def export_compliance(fmt: str, out: Path) -> None:
    """Who delivered: plan items per institution and public status today, and the delivery rate."""
    from idmx.monitoring import services as monitoring

    _write_table(lambda db: monitoring.download(db, fmt), "es", out, "compliance")
    click.echo(f"wrote {out} (compliance figures)")
