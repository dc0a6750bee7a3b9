"""Spreadsheet safety: text that a spreadsheet would run as a formula is neutralised.

A text cell that begins, after leading spaces, with =, +, -, @, a tab, a carriage return or NUL is
prefixed with an apostrophe, which spreadsheet programs show as plain text (OWASP "CSV Injection").
Numbers stay numbers: only text is touched, so a negative score is still -0.5.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")


def neutralise(value: Any) -> Any:
    if isinstance(value, str) and value.lstrip(" ").startswith(TRIGGERS):
        return "'" + value
    return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]], *, bom: bool = True) -> Iterator[str]:
    """RFC 4180 CSV (CRLF line ends, quoted as needed), one line at a time so large exports stream.

    UTF-8 with a byte-order mark by default, so spreadsheet programs show accents correctly.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    first = buffer.getvalue()
    yield ("\ufeff" + first) if bom else first
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([neutralise(v) for v in row])
        yield buffer.getvalue()
