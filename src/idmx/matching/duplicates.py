"""Batch duplicate finding: pairs, clusters and the CSV file contract.

Contract of ``idmx duplicates --in proposals.csv --out pairs.csv``:

- Input: UTF-8 CSV (a byte-order mark is tolerated), header exactly
  ``id,title,description``; ids are strings kept exactly as written ("007",
  "1e3" and " x " stay so) and must be unique and non-empty; description
  may be empty.
- Output: UTF-8 CSV, header ``id_a,id_b,score``, one row per pair judged to
  ask for the same dataset (score >= ``THRESHOLD``), score in [0, 1] with 4
  decimals, best first; ``id_a`` is the one that comes first in the input.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections.abc import Hashable, Iterable, Sequence
from typing import IO, NamedTuple

from idmx.matching.analysis import term_weights
from idmx.matching.index import THRESHOLD, ProposalIndex

HEADER = ("id", "title", "description")
PAIRS_HEADER = ("id_a", "id_b", "score")
# A first "sentence" longer than this is not a sentence but a pasted text.
MAX_DESCRIPTION_CHARS = 200


class ProposalsCSVError(ValueError):
    """A proposals or pairs file breaks the contract; the message is one line."""


class ProposalRow(NamedTuple):
    id: str
    title: str
    description: str = ""


Pair = tuple[Hashable, Hashable, float]


_SENTENCE_END = re.compile(r"[.?!;:\n]")


def _enriched(title: str, description: str) -> str | None:
    """Title plus the first sentence of the description, for a vague title.

    Titles are what people word as the request; descriptions add columns,
    uses and background that two requests for the same dataset rarely share
    (on the demo proposals, reading descriptions in full lost most
    duplicates). But a title like "Gasolina" names no dataset, and then the
    description's opening is where the request is. None when the title is
    not vague or there is nothing to add.
    """
    if not description.strip() or len(term_weights(title)) > 1:
        return None
    first = _SENTENCE_END.split(description.strip(), maxsplit=1)[0]
    return f"{title} {first[:MAX_DESCRIPTION_CHARS]}"


def find_pairs(
    rows: Iterable[Sequence], threshold: float = THRESHOLD
) -> list[tuple[Hashable, Hashable, float]]:
    """Pairs of rows judged to ask for the same dataset, best first.

    ``rows`` holds ``(id, title)`` or ``(id, title, description)`` (e.g.
    ``ProposalRow``); ids must be unique. Titles decide, except that a
    vague title (one term at most, like "Gasolina") is read together with
    the first sentence of its description. Returns ``(id_a, id_b, score)`` with ``id_a`` the one that comes
    first in ``rows``, sorted by score descending, then by input position.
    """
    ids: list[Hashable] = []
    seen: set[Hashable] = set()
    titles: list[str] = []
    enriched: dict[int, str] = {}
    for row in rows:
        ident = row[0]
        if ident in seen:
            raise ValueError(f"duplicate id {ident!r}")
        seen.add(ident)
        title = row[1] if len(row) > 1 else ""
        text = _enriched(title, (row[2] if len(row) > 2 else "") or "")
        if text is not None:
            enriched[len(ids)] = text
        ids.append(ident)
        titles.append(title)
    # Indexed by position: ids of any type and order stay out of the index.
    # A pair with a vague title is judged on the enriched texts only: the
    # bare title ("Gasolina") is contained in every request on its topic.
    found = [
        (a, b, s)
        for a, b, s in ProposalIndex(enumerate(titles)).pairs(threshold)
        if a not in enriched and b not in enriched
    ]
    if enriched:
        texts = [enriched.get(i, t) for i, t in enumerate(titles)]
        found += [
            (a, b, s)
            for a, b, s in ProposalIndex(enumerate(texts)).pairs(threshold)
            if a in enriched or b in enriched
        ]
    found.sort(key=lambda p: (-p[2], p[0], p[1]))
    return [(ids[a], ids[b], s) for a, b, s in found]


def clusters(pairs: Iterable[Pair]) -> list[list[Hashable]]:
    """Candidate duplicate groups from scored pairs, best first.

    Pairs are taken strongest first; two groups merge when the pair at hand
    links them and more than half of all pairs across them are among
    ``pairs`` (so a newcomer must match most of a group). Plain transitive closure would chain "precio de gasolina" ~
    "precio y ubicación de gasolineras" ~ "ubicación de gasolineras" into
    one group; this rule keeps a group about one dataset.

    Groups are ordered by their strongest pair, then size (larger first),
    then first appearance; members by first appearance in the strongest-
    first pair list. Single proposals are not returned.
    """
    ranked = sorted(enumerate(pairs), key=lambda ip: (-ip[1][2], ip[0]))
    linked: set[frozenset] = set()
    first_seen: dict[Hashable, int] = {}
    for _, (a, b, _s) in ranked:
        linked.add(frozenset((a, b)))
        for x in (a, b):
            first_seen.setdefault(x, len(first_seen))
    group_of: dict[Hashable, int] = {x: i for i, x in enumerate(first_seen)}
    members: dict[int, list[Hashable]] = {i: [x] for i, x in enumerate(first_seen)}
    best: dict[int, float] = {}
    for _, (a, b, score) in ranked:
        ga, gb = group_of[a], group_of[b]
        if ga == gb:
            continue
        left, right = members[ga], members[gb]
        links = sum(1 for x in left for y in right if frozenset((x, y)) in linked)
        if 2 * links <= len(left) * len(right):
            continue
        keep, drop = (ga, gb) if ga < gb else (gb, ga)
        merged = sorted(members[keep] + members.pop(drop), key=first_seen.__getitem__)
        members[keep] = merged
        for x in merged:
            group_of[x] = keep
        best[keep] = max(best.get(keep, score), best.pop(drop, score), score)
    groups = [(best[g], ms) for g, ms in members.items() if len(ms) > 1]
    groups.sort(key=lambda bg: (-bg[0], -len(bg[1]), first_seen[bg[1][0]]))
    return [ms for _, ms in groups]


# ---------------------------------------------------------------------------
# CSV files
# ---------------------------------------------------------------------------


def _read_bytes(source: str | os.PathLike | IO) -> tuple[str, bytes | str]:
    if hasattr(source, "read"):
        return getattr(source, "name", "<input>"), source.read()
    try:
        with open(source, "rb") as fh:
            return os.fspath(source), fh.read()
    except OSError as exc:
        raise ProposalsCSVError(f"{os.fspath(source)}: cannot read: {exc.strerror or exc}") from exc


def read_proposals_csv(source: str | os.PathLike | IO) -> list[ProposalRow]:
    """Proposals of a CSV file (path or open file), validated.

    Raises ``ProposalsCSVError`` (a ``ValueError``) with a one-line message
    naming the file and line for: bytes that are not UTF-8, a missing or
    wrong header, a row without exactly three fields, an empty or repeated
    id, or malformed CSV.
    """
    name, data = _read_bytes(source)
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise ProposalsCSVError(
                f"{name}: line {line}: not UTF-8 (byte 0x{data[exc.start]:02x} at offset "
                f"{exc.start}); save the file as UTF-8"
            ) from None
    else:
        text = data.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[ProposalRow] = []
    seen: dict[str, int] = {}
    try:
        header = next(reader, None)
        if header is None:
            raise ProposalsCSVError(f"{name}: empty file; expected the header {','.join(HEADER)}")
        if tuple(h.strip().lower() for h in header) != HEADER:
            raise ProposalsCSVError(
                f"{name}: line 1: expected the header {','.join(HEADER)}, found {_one_line(','.join(header))}"
            )
        for fields in reader:
            line = reader.line_num
            if not fields:
                continue  # blank line
            if len(fields) != 3:
                raise ProposalsCSVError(
                    f"{name}: line {line}: expected 3 fields (id,title,description), found {len(fields)}"
                )
            ident, title, description = fields
            if ident == "":
                raise ProposalsCSVError(f"{name}: line {line}: empty id")
            if ident in seen:
                raise ProposalsCSVError(
                    f"{name}: line {line}: id {_one_line(ident)} already used on line {seen[ident]}"
                )
            seen[ident] = line
            rows.append(ProposalRow(ident, title, description))
    except csv.Error as exc:
        raise ProposalsCSVError(f"{name}: line {reader.line_num}: malformed CSV: {exc}") from None
    return rows


def write_pairs_csv(target: str | os.PathLike | IO, pairs: Iterable[Pair]) -> int:
    """Write ``id_a,id_b,score`` rows (UTF-8, "\\n" line ends); returns the row count.

    Ids are written as ``str(id)``, unchanged; scores with 4 decimals. A
    score outside [0, 1] raises ``ProposalsCSVError``.
    """
    lines = []
    for a, b, score in pairs:
        if not (isinstance(score, (int, float)) and math.isfinite(score) and 0.0 <= score <= 1.0):
            raise ProposalsCSVError(f"score {score!r} of pair ({a!r}, {b!r}) is not in [0, 1]")
        lines.append((str(a), str(b), f"{score:.4f}"))
    if hasattr(target, "write"):
        _write_rows(target, lines)
    else:
        with open(target, "w", encoding="utf-8", newline="") as fh:
            _write_rows(fh, lines)
    return len(lines)


def _write_rows(fh: IO, lines: list[tuple[str, str, str]]) -> None:
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(PAIRS_HEADER)
    writer.writerows(lines)


def _one_line(value: str, limit: int = 80) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 4] + "...'"
