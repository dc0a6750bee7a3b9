"""The `idmx rank` file formats, their validation, and the canonical form that fingerprints hash.

Files (UTF-8, comma separated, one header row; a byte-order mark is tolerated):

* ``R.csv`` respondents: ``respondent_id`` plus one column per weighting variable (``segment``,
  ``state``, ...). A blank category means the question was skipped (category ``not_stated``).
* ``V.csv`` votes. Approval and rating: ``respondent_id,proposal_id,value``; approval values are 1
  (supported) or 0 (shown, not supported), so a proposal's rows are its exposures; rating values are
  1-5. Pairwise: ``respondent_id,winner_id,loser_id`` (undecided comparisons are left out).
* ``T.csv`` weighting targets (optional): ``variable,category,target``, population totals or shares
  per variable. Without targets every respondent weighs the same.

Canonical text. Ids that are all whole numbers are written as integers and sorted numerically;
otherwise they are sorted as text. Categories are stripped, blanks become ``not_stated``; variables
are sorted by name; targets are written with ``repr(float)``; fields that need it are quoted as in
RFC 4180; lines end with ``\\n``. Rows are sorted: respondents by id, votes by all three columns,
targets by variable and category. `write_inputs` (``idmx.ranking.services``) writes this form, with the
respondents numbered in the canonical order below (or under ids a caller maps those numbers to).

Fingerprint (format 2). Respondent ids are labels: the fingerprint does not depend on how the
respondents are numbered (the public export gives them fresh pseudonyms every time) and changes with
any real input. `canonical_fingerprint` computes it:

1. ``P``, the sorted distinct proposal ids of the votes (approval and rating ``proposal_id``;
   pairwise ``winner_id`` and ``loser_id`` together) and ``X``, the sorted distinct values (approval
   and rating; none for pairwise). Each vote row becomes two codes: the positions of its second and
   third fields in ``P`` (and ``X``).
2. Canonical respondent order: respondents sorted by their categories (variables in name order),
   then by their number of vote rows, then by a 128-bit digest of the multiset of their coded rows
   (two sums modulo 2**64 of a splitmix64 mix of each row's codes). Respondents that tie have the
   same rows (but for a 2**-128 accident), so which of them gets which number changes nothing. They
   are numbered 1..N in that order.
3. ``sha256("idmx-ranking-inputs/2\nrespondents <h_R>\nvotes <h_V>\ntargets <h_T>\n")`` where
   ``h_R`` hashes the canonical table of weighting cells (header ``<variables>,respondents``, one
   line per combination of categories with its number of respondents, sorted by the categories;
   with the numbering of step 2 this is R.csv), ``h_V`` hashes the vote header line, then
   ``proposals <len(P)>\n`` and ``P`` one per line, ``values <len(X)>\n`` and ``X`` one per line
   (as canonical numbers), ``rows <n>\n``, then every row as three little-endian int32 (respondent
   number, first code, second code) sorted by those three, and ``h_T`` hashes the canonical T.csv
   (a header-only one when there are no targets).

Fingerprint (format 3, approval and rating). Their results depend on the votes only through the
statistics per proposal and weighting cell (approval: exposures and supporters; rating: ratings,
their sum and sum of squares), which the database keeps up to date (`idmx.ranking.tallies`), so
these methods hash those instead of the rows and a run never reads every vote.
`statistics_fingerprint` computes ``sha256("idmx-ranking-statistics/3\nrespondents <h_R>\n
statistics <h_S>\ntargets <h_T>\n")`` with ``h_R`` and ``h_T`` as in format 2 and ``h_S`` hashing the
header line (``proposal_id,cell,`` and the statistics' names), ``proposals <len(P)>\n`` and ``P``
one per line (the sorted distinct proposal ids, as in format 2), ``rows <n>\n``, then every row as
little-endian int32 (proposal code, cell, statistics...) sorted by proposal code and cell, where a
cell is its line number (from 0) in the canonical table of ``h_R``. Pairwise keeps format 2: its
intervals depend on which comparisons each respondent made.

The same inputs give the same fingerprint whether read from the database or from files, whatever
the row order, number formatting or respondent ids of the files. Rows and statistics are hashed in
binary, so the cost grows with what is hashed at numpy speed (no text is formatted per vote).

Errors name the file, the line (the header is line 1; quoted fields spanning lines shift the count)
and the column, in one :class:`InputFileError`.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from idmx import votemodes
from idmx.ranking import rank_intervals
from idmx.statistics import NOT_STATED

__all__ = [
    "FORMAT",
    "Canonical",
    "Fingerprint",
    "InputFileError",
    "RespondentsFile",
    "TargetsFile",
    "VotesFile",
    "block_order",
    "canonical_fingerprint",
    "csv_line",
    "read_respondents",
    "read_targets",
    "read_votes",
    "render_ranking",
    "render_weights",
    "respondent_lines",
    "statistics_fingerprint",
    "target_lines",
    "vote_lines",
]

FORMAT = "idmx-ranking-inputs/2"
STATISTICS_FORMAT = "idmx-ranking-statistics/3"
STATISTICS = {"approval": ("exposures", "supporters"), "rating": ("n", "sum", "sumsq")}
SECTIONS = ("respondents", "votes", "targets")
TARGET_HEADER = ("variable", "category", "target")
RESULT_COLUMNS = ("rank", "proposal_id", "score", "ci_low", "ci_high", "n_eff", "n_votes")
RANK_INTERVAL_COLUMNS = ("rank_low", "rank_high")
DECIMALS = 10
_CANONICAL_INT = r"0|-?[1-9]\d*"  # exactly how str(int) writes a whole number
_NEEDS_QUOTES = re.compile(r'[",\r\n]')
_CHUNK = 200_000


class InputFileError(Exception):
    """A problem in an input file; the message names the file, line and column."""

    def __init__(self, file: str, message: str, line: int | None = None, column: str | None = None):
        self.file, self.line, self.column, self.message = file, line, column, message
        where = file
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {message}")


# --- canonical text --------------------------------------------------------------------------------


def csv_field(value: object) -> str:
    s = str(value)
    return '"' + s.replace('"', '""') + '"' if _NEEDS_QUOTES.search(s) else s


def csv_line(fields: Iterable[object]) -> str:
    return ",".join(csv_field(f) for f in fields) + "\n"


def canonical_number(x: float) -> str:
    """A vote value or target: integers without a decimal point, other numbers by repr."""
    x = float(x)
    return str(int(x)) if x.is_integer() and abs(x) < 2**53 else repr(x)


class Fingerprint:
    """SHA-256 over the three sections (each a streaming hash, so memory stays bounded).

    Format 3 names its second section ``statistics``; callers still update it as ``votes``.
    """

    def __init__(self, format: str = FORMAT) -> None:
        self.format = format
        names = SECTIONS if format == FORMAT else ("respondents", "statistics", "targets")
        self._names = dict(zip(SECTIONS, names))
        self._sections = {name: hashlib.sha256() for name in SECTIONS}

    def update(self, section: str, data: bytes | str) -> None:
        self._sections[section].update(data.encode() if isinstance(data, str) else data)

    def hexdigest(self) -> str:
        summary = self.format + "\n" + "".join(f"{self._names[name]} {h.hexdigest()}\n" for name, h in self._sections.items())
        return hashlib.sha256(summary.encode()).hexdigest()


@dataclass(frozen=True)
class Canonical:
    """A fingerprint and each respondent's canonical number (1..N, in the order given)."""

    fingerprint: str
    number: np.ndarray


_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_SEEDS = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xD1B54A32D192ED03))


def _digests(token: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two 64-bit mixes of each row's code (splitmix64's finaliser, then one more round)."""
    with np.errstate(over="ignore"):
        z = token + _SEEDS[0]
        z ^= z >> np.uint64(30)
        z *= _M1
        z ^= z >> np.uint64(27)
        z *= _M2
        z ^= z >> np.uint64(31)
        w = z + _SEEDS[1]
        w ^= w >> np.uint64(33)
        w *= _M1
        w ^= w >> np.uint64(29)
    return z, w


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and each value's position among them."""
    if values.dtype.kind in "iu" and len(values):
        lo, hi = int(values.min()), int(values.max())
        if hi - lo <= 4 * len(values) + 1_000_000:  # a lookup table beats hashing or sorting
            shifted = values - lo
            present = np.bincount(shifted, minlength=hi - lo + 1) > 0
            lut = np.cumsum(present) - 1
            return np.flatnonzero(present) + lo, lut[shifted].astype(np.int64, copy=False)
    codes, uniques = pd.factorize(values, sort=True)
    return np.asarray(uniques), codes.astype(np.int64)


def _text_lines(values: np.ndarray, numbers: bool) -> bytes:
    if numbers:
        return "".join(canonical_number(v) + "\n" for v in values).encode()
    return "".join(_lines(pd.DataFrame({"v": values}))).encode() if len(values) else b""


def block_order(counts: np.ndarray, order: np.ndarray, lo: int = 0, hi: int | None = None) -> np.ndarray:
    """Row positions that put blocks of consecutive rows (``counts[i]`` rows for block i, blocks in
    index order) in the order ``order[lo:hi]``, each block's rows kept in place."""
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    sel = np.asarray(order)[lo:hi]
    lens = counts[sel]
    offsets = np.cumsum(lens) - lens
    return np.arange(int(lens.sum()), dtype=np.int64) + np.repeat(starts[sel] - offsets, lens)


def _hash_cells(fp: Fingerprint, cells: pd.DataFrame, variables: list[str]) -> None:
    fp.update("respondents", csv_line([*variables, "respondents"]))
    for line in _lines(cells[[*variables, "respondents"]]):
        fp.update("respondents", line)


def statistics_fingerprint(
    cells: pd.DataFrame, variables: list[str], stats: pd.DataFrame, method: str, targets: pd.DataFrame | None
) -> str:
    """Format 3 (see the module docstring): ``cells`` sorted by their categories with
    ``respondents``; ``stats`` with ``proposal_id, cell`` and the method's `STATISTICS`."""
    columns = list(STATISTICS[votemodes.get(method).statistics])
    fp = Fingerprint(STATISTICS_FORMAT)
    _hash_cells(fp, cells, variables)
    ids, codes = _codes(stats["proposal_id"].to_numpy())
    n = len(stats)
    table = np.empty((n, 2 + len(columns)), dtype="<i4")
    for j, values in enumerate([codes, stats["cell"], *(stats[c] for c in columns)]):
        values = np.asarray(values, dtype=np.int64)
        if n and (values.min() < 0 or values.max() >= 2**31):
            raise ValueError("statistics out of the fingerprint's 32-bit range")
        table[:, j] = values
    if n > 1:
        step = np.diff(table[:, 0])
        if np.any((step < 0) | ((step == 0) & (np.diff(table[:, 1]) <= 0))):
            table = table[np.lexsort((table[:, 1], table[:, 0]))]
            if np.any((table[1:, 0] == table[:-1, 0]) & (table[1:, 1] == table[:-1, 1])):
                raise ValueError("statistics must have one row per proposal and cell")
    fp.update("votes", csv_line(["proposal_id", "cell", *columns]))
    fp.update("votes", f"proposals {len(ids)}\n".encode() + _text_lines(ids, numbers=False))
    fp.update("votes", f"rows {n}\n")
    fp.update("votes", table.tobytes())
    for line in target_lines(targets):
        fp.update("targets", line)
    return fp.hexdigest()


def canonical_fingerprint(
    cells: pd.DataFrame,
    variables: list[str],
    resp_cell: np.ndarray,
    vote_resp: np.ndarray,
    second: np.ndarray,
    third: np.ndarray,
    header: tuple[str, str, str],
    targets: pd.DataFrame | None,
) -> Canonical:
    """The fingerprint of the inputs (see the module docstring) and the canonical respondent numbers.

    ``cells``: the weighting cells sorted by their categories, with ``respondents`` counts;
    ``resp_cell``: each respondent's cell (row of ``cells``); ``vote_resp``: each vote row's
    respondent (position in ``resp_cell``), non-decreasing; ``second``/``third``: the vote rows'
    other two columns (ids, values). Rows of one respondent should come sorted by those two (both
    callers read them so); otherwise they are sorted here.
    """
    n_resp = len(resp_cell)
    vote_resp = np.asarray(vote_resp, dtype=np.int64)
    n = len(vote_resp)
    if n and np.any(np.diff(vote_resp) < 0):
        raise ValueError("vote rows must be grouped by respondent")
    if "value" in header:
        ids, b = _codes(np.asarray(second))
        values, c = _codes(np.asarray(third))
    else:
        ids, both = _codes(np.concatenate([np.asarray(second), np.asarray(third)]))
        b, c = both[:n], both[n:]
        values = np.zeros(0)
    width = np.int64(max(len(values), len(ids), 1))
    if max(n_resp, len(ids), len(values)) >= 2**31:
        raise ValueError("too many respondents or proposals for the fingerprint's 32-bit codes")
    token = b * width
    token += c
    unsorted = bool(n) and bool(np.any((np.diff(token) < 0) & (np.diff(vote_resp) == 0)))
    if unsorted:  # rows of a respondent not sorted by their fields: sort them
        o = np.lexsort((c, b, vote_resp))
        b, c, token = b[o], c[o], token[o]

    counts = np.bincount(vote_resp, minlength=n_resp).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    has = counts > 0
    digests = []
    for mixed in _digests(token.view(np.uint64)):
        sums = np.zeros(n_resp, dtype=np.uint64)
        if n:
            sums[has] = np.add.reduceat(mixed, starts[has])
        digests.append(sums)
    del token
    order = np.lexsort((digests[1], digests[0], counts, np.asarray(resp_cell, dtype=np.int64)))
    number = np.empty(n_resp, dtype=np.int64)
    number[order] = np.arange(1, n_resp + 1)

    fp = Fingerprint()
    _hash_cells(fp, cells, variables)

    fp.update("votes", csv_line(header))
    fp.update("votes", f"proposals {len(ids)}\n".encode() + _text_lines(ids, numbers=False))
    fp.update("votes", f"values {len(values)}\n".encode() + _text_lines(values, numbers=True))
    fp.update("votes", f"rows {n}\n")
    if n:
        # Rows in canonical order: respondent blocks in `order`, each block kept (sorted by codes).
        lens = counts[order]
        for lo in range(0, n_resp, 20_000):  # bounded temporaries
            hi = min(n_resp, lo + 20_000)
            idx = block_order(counts, order, lo, hi)
            m = len(idx)
            if m == 0:
                continue
            rows = np.empty((m, 3), dtype="<i4")
            rows[:, 0] = np.repeat(np.arange(lo + 1, hi + 1, dtype=np.int32), lens[lo:hi])
            rows[:, 1] = b[idx]
            rows[:, 2] = c[idx]
            fp.update("votes", rows.tobytes())
    for line in target_lines(targets):
        fp.update("targets", line)
    return Canonical(fp.hexdigest(), number)


def _column_text(values: pd.Series) -> pd.Series:
    """Column as canonical text, quoted where needed."""
    s = values.astype(str)
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        quoted = s.str.contains(_NEEDS_QUOTES.pattern, regex=True)
        if quoted.any():
            s = s.where(~quoted, '"' + s.str.replace('"', '""', regex=False) + '"')
    return s


def _lines(frame: pd.DataFrame) -> Iterator[str]:
    """Canonical CSV lines of a frame's rows, in chunks (no header)."""
    for start in range(0, len(frame), _CHUNK):
        part = frame.iloc[start : start + _CHUNK]
        text = None
        for col in part.columns:
            col_text = _column_text(part[col])
            text = col_text if text is None else text + "," + col_text
        if text is not None:
            yield "\n".join(text.tolist()) + "\n"


def respondent_lines(respondents: pd.DataFrame, variables: list[str]) -> Iterator[str]:
    """Header and canonical rows of R.csv (``respondents`` already canonical and sorted)."""
    yield csv_line(["respondent_id", *variables])
    yield from _lines(respondents[["respondent_id", *variables]])


def vote_lines(votes: pd.DataFrame, header: tuple[str, str, str]) -> Iterator[str]:
    yield csv_line(header)
    frame = votes[list(header)]
    if "value" in frame.columns:
        frame = frame.assign(value=[canonical_number(v) for v in frame["value"]] if frame["value"].dtype.kind == "f" else frame["value"])
    yield from _lines(frame)


def target_lines(targets: pd.DataFrame | None) -> Iterator[str]:
    yield csv_line(TARGET_HEADER)
    if targets is not None:
        for variable, category, target in targets[list(TARGET_HEADER)].itertuples(index=False):
            yield csv_line([variable, category, repr(float(target))])


# --- reading ---------------------------------------------------------------------------------------


def _header(path: Path, label: str) -> list[str]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            first = next(csv.reader(fh), None)
    except FileNotFoundError:
        raise InputFileError(label, "file not found") from None
    except UnicodeDecodeError:
        raise InputFileError(label, "is not UTF-8 text", line=1) from None
    except csv.Error as exc:
        raise InputFileError(label, f"unreadable header: {exc}", line=1) from None
    if not first:
        raise InputFileError(label, "the file is empty; it needs a header row", line=1)
    return [c.strip() for c in first]


def _read(path: Path, label: str, required: list[str], optional_rest: bool = False) -> pd.DataFrame:
    """All columns as stripped text, blank lines dropped, with each row's line number in ``_line``."""
    header = _header(path, label)
    dup = [c for i, c in enumerate(header) if c in header[:i]]
    if dup:
        raise InputFileError(label, f"column {dup[0]!r} appears twice in the header", line=1, column=dup[0])
    missing = [c for c in required if c not in header]
    if missing:
        raise InputFileError(
            label, f"missing column {missing[0]!r} (the header has {', '.join(map(repr, header))})",
            line=1, column=missing[0],
        )
    if "" in header:
        raise InputFileError(label, "a column has an empty name", line=1)
    extra = "\x00extra"  # catches rows with one field too many (pandas would make it an index)
    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, na_filter=False, skip_blank_lines=False,
            encoding="utf-8-sig", header=None, skiprows=1, names=[*header, extra], engine="c",
        )
    except UnicodeDecodeError as exc:
        raise InputFileError(label, "is not UTF-8 text", line=_line_of_byte(path, exc.start)) from None
    except pd.errors.ParserError as exc:
        found = re.search(r"line (\d+), saw (\d+)", str(exc))
        if found:
            raise InputFileError(
                label, f"{found.group(2)} fields, but the header has {len(header)}", line=int(found.group(1))
            ) from None
        raise InputFileError(label, f"unreadable CSV: {exc}") from None
    too_many = (frame.pop(extra) != "").to_numpy()
    if too_many.any():
        raise InputFileError(label, f"{len(header) + 1} fields, but the header has {len(header)}",
                             line=_first(too_many) + 2)
    frame = frame.apply(lambda col: col.str.strip()) if len(frame) else frame
    frame["_line"] = np.arange(2, len(frame) + 2)
    blank = np.ones(len(frame), dtype=bool)
    for col in header:
        blank &= (frame[col] == "").to_numpy()
    return frame[~blank].reset_index(drop=True)


def _line_of_byte(path: Path, offset: int) -> int:
    with open(path, "rb") as fh:
        return fh.read(offset).count(b"\n") + 1


def _show(x: object) -> str:
    """An id or category for a message: numbers plain, text quoted."""
    if isinstance(x, (np.integer, int)) and not isinstance(x, bool):
        return str(int(x))
    return repr(str(x))


def _first(mask: np.ndarray | pd.Series) -> int:
    return int(np.argmax(np.asarray(mask)))


def _require_values(frame: pd.DataFrame, label: str, columns: list[str]) -> None:
    for col in columns:
        empty = (frame[col] == "").to_numpy()
        if empty.any():
            i = _first(empty)
            raise InputFileError(label, "empty value", line=int(frame["_line"].iloc[i]), column=col)


def _canonical_ids(values: pd.Series) -> pd.Series:
    """Ids are text, kept exactly as written. When every one of them is a whole number written the one way
    Python writes it (no sign, no leading zero: what the database's ids look like), they are held as int64,
    which writes back identically and sorts numerically as the database does; otherwise they stay text,
    so "007" and "7" are two ids and "01612910137588" keeps its zero."""
    if len(values) and values.str.fullmatch(_CANONICAL_INT).all():
        try:
            return pd.Series(np.array([int(v) for v in values], dtype=np.int64), index=values.index)
        except OverflowError:
            pass
    return values.astype(object)


def _match_ids(values: pd.Series, like: pd.Series) -> pd.Series:
    """``values`` in the representation of ``like`` (int64 ids or text); non-numbers become NA."""
    if like.dtype == np.int64:
        ok = values.str.fullmatch(_CANONICAL_INT)
        out = pd.Series(pd.NA, index=values.index, dtype="Int64")
        if ok.any():
            out[ok] = [int(v) for v in values[ok]]
        return out
    return values.astype(object)


@dataclass(frozen=True)
class RespondentsFile:
    """R.csv parsed: ``frame`` has canonical ``respondent_id``, one column per variable, ``_line``;
    sorted by respondent id."""

    frame: pd.DataFrame
    variables: list[str]
    label: str


@dataclass(frozen=True)
class VotesFile:
    """V.csv parsed: canonical ids, sorted; ``frame`` keeps ``_line`` for messages."""

    frame: pd.DataFrame
    method: str
    label: str

    @property
    def header(self) -> tuple[str, str, str]:
        return votemodes.get(self.method).file_columns


@dataclass(frozen=True)
class TargetsFile:
    frame: pd.DataFrame  # variable, category, target (float), _line; sorted
    label: str


def read_respondents(path: str | Path, label: str | None = None) -> RespondentsFile:
    path = Path(path)
    label = label or str(path)
    frame = _read(path, label, ["respondent_id"])
    variables = sorted(c for c in frame.columns if c not in ("respondent_id", "_line"))
    if len(frame) == 0:
        raise InputFileError(label, "no respondents (the file has only a header)", line=2)
    _require_values(frame, label, ["respondent_id"])
    frame["respondent_id"] = _canonical_ids(frame["respondent_id"])
    dup = frame["respondent_id"].duplicated().to_numpy()
    if dup.any():
        i = _first(dup)
        rid = frame["respondent_id"].iloc[i]
        first = int(frame.loc[frame["respondent_id"] == rid, "_line"].iloc[0])
        raise InputFileError(label, f"respondent {_show(rid)} is listed twice (first on line {first})",
                             line=int(frame["_line"].iloc[i]), column="respondent_id")
    for var in variables:
        frame[var] = frame[var].mask(frame[var] == "", NOT_STATED).astype(object)
    frame = frame[["respondent_id", *variables, "_line"]].sort_values("respondent_id", ignore_index=True, kind="stable")
    return RespondentsFile(frame, variables, label)


def read_votes(path: str | Path, method: str, respondents: RespondentsFile, label: str | None = None) -> VotesFile:
    path = Path(path)
    label = label or str(path)
    mode = votemodes.get(method)
    pairwise = mode.statistics == "pairwise"
    header = list(mode.file_columns)
    frame = _read(path, label, header)
    frame = frame[[*header, "_line"]]
    if len(frame) == 0:
        raise InputFileError(label, "no votes (the file has only a header)", line=2)
    _require_values(frame, label, header)
    lines = frame["_line"]

    rid = _match_ids(frame["respondent_id"], respondents.frame["respondent_id"])
    known = rid.isin(respondents.frame["respondent_id"]).to_numpy(dtype=bool) & ~rid.isna().to_numpy()
    if not known.all():
        i = _first(~known)
        raise InputFileError(
            label, f"respondent {frame['respondent_id'].iloc[i]!r} is not in {respondents.label}",
            line=int(lines.iloc[i]), column="respondent_id",
        )
    frame["respondent_id"] = rid.astype(respondents.frame["respondent_id"].dtype)

    if pairwise:
        both = _canonical_ids(pd.concat([frame["winner_id"], frame["loser_id"]], ignore_index=True))
        frame["winner_id"] = both.iloc[: len(frame)].to_numpy()
        frame["loser_id"] = both.iloc[len(frame):].to_numpy()
        same = (frame["winner_id"] == frame["loser_id"]).to_numpy()
        if same.any():
            i = _first(same)
            raise InputFileError(label, f"proposal {_show(frame['winner_id'].iloc[i])} cannot beat itself",
                                 line=int(lines.iloc[i]), column="loser_id")
        keys = ["respondent_id", "winner_id", "loser_id"]
    else:
        frame["proposal_id"] = _canonical_ids(frame["proposal_id"])
        value = pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=float)
        if mode.statistics == "approval":
            bad = ~np.isin(value, (0.0, 1.0))
            expected = "1 (supported) or 0 (shown, not supported)"
        else:
            low, high = mode.values
            bad = ~((value >= low) & (value <= high))
            expected = f"a rating from {low} to {high}"
        if bad.any():
            i = _first(bad)
            raise InputFileError(label, f"value {frame['value'].iloc[i]!r} is not {expected}",
                                 line=int(lines.iloc[i]), column="value")
        if mode.statistics == "approval" or np.all(value == np.round(value)):
            frame["value"] = value.astype(np.int64)
        else:
            frame["value"] = value
        dup = frame.duplicated(["respondent_id", "proposal_id"]).to_numpy()
        if dup.any():
            i = _first(dup)
            r, p = frame["respondent_id"].iloc[i], frame["proposal_id"].iloc[i]
            first = int(frame.loc[(frame["respondent_id"] == r) & (frame["proposal_id"] == p), "_line"].iloc[0])
            raise InputFileError(label, f"respondent {_show(r)} already voted on proposal {_show(p)} on line {first}",
                                 line=int(lines.iloc[i]), column="proposal_id")
        keys = ["respondent_id", "proposal_id", "value"]
    frame = frame.sort_values(keys, ignore_index=True, kind="stable")
    return VotesFile(frame, method, label)


def read_targets(path: str | Path, respondents: RespondentsFile, label: str | None = None) -> TargetsFile | None:
    """T.csv; None when it has no rows (then every respondent weighs the same)."""
    path = Path(path)
    label = label or str(path)
    frame = _read(path, label, list(TARGET_HEADER))[[*TARGET_HEADER, "_line"]]
    if len(frame) == 0:
        return None
    _require_values(frame, label, ["variable", "target"])
    frame["category"] = frame["category"].mask(frame["category"] == "", NOT_STATED)
    unknown = ~frame["variable"].isin(respondents.variables).to_numpy()
    if unknown.any():
        i = _first(unknown)
        cols = ", ".join(map(repr, respondents.variables)) or "none"
        raise InputFileError(
            label, f"variable {frame['variable'].iloc[i]!r} is not a column of {respondents.label} (its variables: {cols})",
            line=int(frame["_line"].iloc[i]), column="variable",
        )
    target = pd.to_numeric(frame["target"], errors="coerce").to_numpy(dtype=float)
    bad = ~(np.isfinite(target) & (target >= 0))
    if bad.any():
        i = _first(bad)
        raise InputFileError(label, f"target {frame['target'].iloc[i]!r} is not a number >= 0",
                             line=int(frame["_line"].iloc[i]), column="target")
    frame["target"] = target
    dup = frame.duplicated(["variable", "category"]).to_numpy()
    if dup.any():
        i = _first(dup)
        raise InputFileError(label, f"category {frame['category'].iloc[i]!r} of variable "
                             f"{frame['variable'].iloc[i]!r} is listed twice",
                             line=int(frame["_line"].iloc[i]), column="category")
    rframe = respondents.frame
    for var, rows in frame.groupby("variable", sort=True):
        if rows["target"].sum() <= 0:
            raise InputFileError(label, f"the targets of variable {var!r} sum to 0",
                                 line=int(rows["_line"].iloc[0]), column="target")
        present = set(rframe[var])
        empty = (~rows["category"].isin(present) & (rows["target"] > 0)).to_numpy()
        if empty.any():
            i = _first(empty)
            raise InputFileError(
                label, f"category {rows['category'].iloc[i]!r} of variable {var!r} has a target but no "
                f"respondents in {respondents.label}; merge it with another category or set its target to 0",
                line=int(rows["_line"].iloc[i]), column="category",
            )
        absent = ~rframe[var].isin(set(rows["category"])).to_numpy()
        if absent.any():
            i = _first(absent)
            raise InputFileError(
                respondents.label, f"category {rframe[var].iloc[i]!r} of variable {var!r} has no row in {label}",
                line=int(rframe["_line"].iloc[i]), column=var,
            )
    frame = frame.sort_values(["variable", "category"], ignore_index=True, kind="stable")
    return TargetsFile(frame, label)


# --- results -----------------------------------------------------------------------------------------


def _number(x: object) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    return repr(float(x))


def render_ranking(rows: list[dict[str, object]], confidence: float = 0.95) -> str:
    """ranking.csv: ``rank,proposal_id,score,ci_low,ci_high,n_eff,n_votes`` (+ ``theta``), then
    ``rank_low,rank_high``: the interval of each rank at ``confidence`` (`idmx.ranking.rank_intervals`),
    computed from the rows themselves, so every path that writes the same rows writes the same file."""
    columns = list(RESULT_COLUMNS) + (["theta"] if rows and "theta" in rows[0] else [])
    intervals = rank_intervals.for_results(rows, confidence)  # type: ignore[arg-type]
    out = [csv_line([*columns, *RANK_INTERVAL_COLUMNS])]
    for row in rows:
        low, high = intervals[row["proposal_id"]]
        out.append(",".join(
            csv_field(row[c]) if c == "proposal_id" else _number(row[c]) for c in columns
        ) + f",{low},{high}\n")
    return "".join(out)


def render_weights(respondent_ids: pd.Series, weights: np.ndarray) -> Iterator[str]:
    """weights.csv: ``respondent_id,weight`` (weights rounded to 10 decimals)."""
    yield "respondent_id,weight\n"
    frame = pd.DataFrame({"respondent_id": respondent_ids.to_numpy(),
                          "weight": [repr(round(float(w), DECIMALS)) for w in weights]})
    yield from _lines(frame)
