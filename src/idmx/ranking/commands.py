"""`idmx rank`: rank a consultation from the database (and store the run), or rank exported files.

Both ways go through the same code (`idmx.ranking.pipeline.compute_ranking`), so the files written by
`idmx.ranking.services.write_inputs` reproduce a stored run: the same fingerprint and a byte-identical ranking.csv.
"""

from __future__ import annotations

from pathlib import Path

import click

from idmx import commandline, votemodes
from idmx.errors import NotFound

FILE = click.Path(dir_okay=False, path_type=Path)


@click.command("rank")
@click.option("--consultation", "slug", metavar="SLUG", help="Rank this consultation from the database and store the run.")
@click.option("--respondents", type=FILE, help="R.csv: respondent_id plus one column per weighting variable.")
@click.option("--votes", type=FILE, help="V.csv: respondent_id,proposal_id,value (approval 0/1, rating 1-5) "
              "or respondent_id,winner_id,loser_id (pairwise).")
@click.option("--cells", type=FILE, help="cells.csv of an open-data package: cell, the weighting variables, "
              "respondents (with --statistics, instead of --respondents and --votes).")
@click.option("--statistics", "statistics_file", type=FILE, help="statistics.csv of an open-data package: the votes' "
              "sufficient statistics per proposal and cell.")
@click.option("--mode", type=click.Choice([mode.code for mode in votemodes.all_modes()]), help="How V.csv votes.")
@click.option("--targets", type=FILE, help="T.csv: variable,category,target (totals or shares). "
              "Without it every respondent weighs the same.")
@click.option("--cap", type=click.FloatRange(min=1), help="Trim weights to at most CAP times the mean weight.")
@click.option("--ridge", type=click.FloatRange(min=0), default=None,
              help="Precision of the Bradley-Terry prior (pairwise); default: estimated from the comparisons; "
                   "0 (no prior) needs every proposal linked by wins both ways.")
@click.option("--confidence", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.95,
              show_default=True, help="Confidence level of the intervals.")
@click.option("--rank-by", type=click.Choice(["lower", "point"]), default="lower", show_default=True,
              help="Rank by the interval's lower end or by the point estimate.")
@click.option("--out", type=FILE, help="Where to write ranking.csv (file mode).")
@click.option("--weights-out", type=FILE, help="Also write weights.csv: respondent_id,weight (file mode).")
@click.option("--without-flagged", is_flag=True, help="With --consultation: leave out the respondents flagged "
              "as suspicious (the run is stored beside the run of every vote).")
@click.option("--due", is_flag=True, help="Compute every run that is due, as the worker does: the final run of "
              "each consultation that closed, and a fresh one of each live one.")
def rank(slug, respondents, votes, cells, statistics_file, mode, targets, cap, ridge, confidence, rank_by, out,
         weights_out, without_flagged, due) -> None:
    """Rank proposals with weighted scores, uncertainty intervals and an input fingerprint.

    \b
    From the database (stores an immutable run, prints its id, fingerprint and top 10):
      idmx rank --consultation idmx-2027
    From files (prints the fingerprint; no database needed):
      idmx rank --respondents R.csv --votes V.csv --mode approval [--targets T.csv] --out ranking.csv
    From a consultation's open-data package (its per-cell statistics):
      idmx rank --cells cells.csv --statistics statistics.csv --mode approval --targets targets.csv --out ranking.csv
    Every run that is due (what the worker does every minute):
      idmx rank --due
    """
    from idmx.ranking.files import InputFileError
    from idmx.ranking.pipeline import RunParams
    from idmx.statistics import RankingError

    file_options = {"--respondents": respondents, "--votes": votes, "--cells": cells, "--statistics": statistics_file,
                    "--mode": mode, "--targets": targets, "--out": out, "--weights-out": weights_out}
    if due:
        _rank_due()
        return
    try:
        if slug is not None:
            given = [k for k, v in file_options.items() if v is not None and k != "--mode"]
            if given:
                raise click.UsageError(f"--consultation ranks from the database; it does not take {', '.join(given)}")
            _rank_consultation(slug, RunParams(method=mode, cap=cap, ridge=ridge, confidence=confidence, rank_by=rank_by,
                                               exclude_flagged=without_flagged))
        else:
            if without_flagged:
                raise click.UsageError("--without-flagged ranks from the database: give --consultation SLUG")
            params = RunParams(method=mode, cap=cap, ridge=ridge, confidence=confidence, rank_by=rank_by)
            if cells is not None or statistics_file is not None:
                _rank_published(cells, statistics_file, mode, targets, params, out, file_options)
                return
            missing = [k for k in ("--respondents", "--votes", "--mode", "--out") if file_options[k] is None]
            if missing:
                raise click.UsageError(
                    f"give --consultation SLUG, or files: missing {', '.join(missing)}"
                )
            _rank_files(respondents, votes, mode, targets, params, out, weights_out)
    except (InputFileError, RankingError) as exc:
        raise click.ClickException(str(exc)) from None


def _rank_files(respondents, votes, mode, targets, params, out: Path, weights_out: Path | None) -> None:
    from idmx.ranking import files, pipeline

    result = pipeline.rank_files(respondents, votes, mode, targets, params)
    _write(out, files.render_ranking(result.rows, params.confidence))
    if weights_out is not None:
        _write(weights_out, "".join(files.render_weights(result.respondent_ids, result.respondent_weights)))
    s = result.summary
    click.echo(f"fingerprint: {result.fingerprint}")
    if result.format2_fingerprint is not None:
        click.echo(f"fingerprint (format 2, of runs stored before 2026-11-27): {result.format2_fingerprint}")
    click.echo(f"ranked {s['proposals']} proposals from {s['vote_rows']} vote rows of {s['respondents']} respondents "
               f"(Kish effective n {s['n_eff']:.1f}); wrote {out}")


def _rank_published(cells, statistics_file, mode, targets, params, out: Path, options: dict) -> None:
    from idmx.ranking import files, published

    given = [k for k in ("--respondents", "--votes", "--weights-out") if options[k] is not None]
    if given:
        raise click.UsageError(f"--cells and --statistics rank an open-data package; they do not take {', '.join(given)}")
    missing = [k for k in ("--cells", "--statistics", "--mode", "--out") if options[k] is None]
    if missing:
        raise click.UsageError(f"ranking an open-data package needs {', '.join(missing)}")
    result = published.rank_published(cells, statistics_file, mode, targets, params)
    _write(out, files.render_ranking(result.rows, params.confidence))
    s = result.summary
    click.echo(f"fingerprint: {result.fingerprint}")
    click.echo(f"ranked {s['proposals']} proposals from {s['vote_rows']} vote rows of {s['respondents']} respondents "
               f"in {s['cells']} cells (Kish effective n {s['n_eff']:.1f}); wrote {out}")


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from None


def _rank_consultation(slug: str, params) -> None:
    from idmx.ranking import services as runs

    with commandline.database() as database, commandline.refusals():
        try:
            cid = runs.consultation_id(database, slug)
        except NotFound:
            raise click.ClickException(f"there is no consultation {slug!r}") from None
        run = runs.run_for_consultation(database, cid, params)
        titles = runs.titles(database, cid)
    top = run.results[:10]
    sm = run.summary
    click.echo(f"run {run.id}: {slug}, {run.method}, {sm['proposals']} proposals, {sm['respondents']} respondents "
               f"(Kish effective n {sm['n_eff']:.1f})")
    if sm.get("flagged_respondents"):
        left = "left out" if run.excludes_flagged else "counted; --without-flagged leaves them out"
        click.echo(f"flagged as suspicious: {sm['flagged_respondents']} respondents ({left})")
    click.echo(f"fingerprint: {run.fingerprint}")
    click.echo(f"{'rank':>4}  {'score':>7}  {'interval':>17}  {'n_votes':>7}  proposal")
    for r in top:
        score = "" if r["score"] is None else f"{r['score']:.3f}"
        interval = f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
        click.echo(f"{r['rank']:>4}  {score:>7}  {interval:>17}  {r['n_votes']:>7}  #{r['proposal_id']} {titles.get(r['proposal_id'], '')}")


def _rank_due() -> None:
    from idmx.ranking import flags
    from idmx.ranking import services as runs

    with commandline.database() as database:
        done = runs.refresh_due(database, prepare=flags.flag_consultation)
    for job, run_id in done:
        what = "final run" if job.final else "live run"
        click.echo(f"{job.slug}: {what} {run_id}" if run_id is not None else f"{job.slug}: nothing to rank yet")
    click.echo(f"idmx: {len(done)} run(s) due", err=True)
