"""`idmx duplicates`: the staff duplicate finder's matcher on a CSV file, without a database.

The same function as the hints while typing and the staff page of suggested duplicates
(`idmx.matching.find_pairs`); the file contract is `idmx.matching.duplicates`'.
"""

from __future__ import annotations

import sys

import click

from idmx.matching import THRESHOLD, ProposalsCSVError, find_pairs, read_proposals_csv, write_pairs_csv


@click.command("duplicates")
@click.option("--in", "source", required=True, metavar="PROPOSALS.csv",
              help="UTF-8 CSV with the header id,title,description ('-' reads standard input). Ids are kept "
                   "exactly as written; the description may be empty.")
@click.option("--out", "target", required=True, metavar="PAIRS.csv",
              help="Where to write id_a,id_b,score ('-' writes standard output).")
@click.option("--threshold", type=click.FloatRange(0, 1), default=THRESHOLD, show_default=True,
              help="Lowest score of a pair judged to ask for the same dataset.")
def duplicates(source: str, target: str, threshold: float) -> None:
    """Find proposals that ask for the same dataset: one row per pair, best first.

    \b
    Writes a UTF-8 CSV with the header id_a,id_b,score: id_a is the one that comes first in the
    input, the score is in [0, 1] (4 decimals). A file that breaks the contract (not UTF-8, another
    header, a row without three fields, an empty or repeated id) stops it with a one-line message
    naming the line, and exit status 1.
    """
    try:
        rows = read_proposals_csv(sys.stdin.buffer if source == "-" else source)
        pairs = find_pairs(rows, threshold)
        if target == "-":
            written = write_pairs_csv(sys.stdout, pairs)
        else:
            written = write_pairs_csv(target, pairs)
    except ProposalsCSVError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"{target}: cannot write: {exc.strerror or exc}") from None
    click.echo(f"idmx: {len(rows)} proposal(s), {written} pair(s) judged to ask for the same dataset"
               + ("" if target == "-" else f", written to {target}"), err=True)
