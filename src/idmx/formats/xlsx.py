"""A small streaming XLSX writer: typed cells, a frozen bold header, text safe from formula injection.

    from idmx.exports.xlsx import Sheet, write_xlsx, xlsx_chunks

    write_xlsx(path_or_binary_file, [Sheet("Items", ["rank", "title", "due"], rows)])
    Stream(xlsx_chunks([Sheet(...)]), media_type=XLSX_MEDIA_TYPE)          # a web download

Rows are written one at a time through openpyxl's write-only workbook (each sheet goes to a
temporary file as it is written), so memory stays bounded whatever the number of rows.

Cells by Python type: ``int``/``float``/``Decimal`` are numbers (negative numbers stay numbers),
``bool`` a boolean, ``datetime.date`` a date (``yyyy-mm-dd``), ``datetime.datetime`` a date and time
(``yyyy-mm-dd hh:mm``; aware ones converted to UTC, as spreadsheets have no time zones), ``None``
an empty cell, anything else text. Text goes through `idmx.exports.safety.neutralise` (a leading
``=``, ``+``, ``-``, ``@``, tab, CR or NUL, after leading spaces, gets an apostrophe) and loses the
control characters the XLSX format cannot hold; it is always stored as a string, never a formula.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from idmx.formats.safety import neutralise

__all__ = ["XLSX_MEDIA_TYPE", "Sheet", "cell_value", "write_xlsx", "xlsx_chunks"]

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
_BOLD = Font(bold=True)


@dataclass
class Sheet:
    """One worksheet: a title (at most 31 characters), the header, the rows (any iterable; consumed
    once, while writing), and optional column widths in characters."""

    title: str
    header: Sequence[str]
    rows: Iterable[Sequence[Any]]
    widths: Sequence[float] | None = None


def cell_value(value: Any) -> tuple[Any, str | None]:
    """The value to store and its number format (None: general)."""
    if value is None or isinstance(value, bool):
        return value, None
    if isinstance(value, (int, float)):
        return value, None
    if isinstance(value, Decimal):
        return float(value), None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value, DATETIME_FORMAT
    if isinstance(value, date):
        return value, DATE_FORMAT
    text = str(value)
    return ILLEGAL_CHARACTERS_RE.sub("", neutralise(text)), None


def _cell(ws, value: Any, bold: bool = False) -> WriteOnlyCell:
    stored, number_format = cell_value(value)
    cell = WriteOnlyCell(ws, value=stored)
    if isinstance(stored, str):
        cell.data_type = "s"  # never a formula, whatever the text
    if number_format:
        cell.number_format = number_format
    if bold:
        cell.font = _BOLD
    return cell


def write_xlsx(target: str | Path | IO[bytes], sheets: Iterable[Sheet]) -> None:
    """Write the sheets to a path or a binary file object."""
    wb = Workbook(write_only=True)
    for sheet in sheets:
        ws = wb.create_sheet(title=ILLEGAL_CHARACTERS_RE.sub("", sheet.title)[:31] or "Sheet")
        ws.freeze_panes = "A2"
        if sheet.widths:
            from openpyxl.utils import get_column_letter

            for i, width in enumerate(sheet.widths, start=1):
                ws.column_dimensions[get_column_letter(i)].width = width
        ws.append([_cell(ws, h, bold=True) for h in sheet.header])
        for row in sheet.rows:
            ws.append([_cell(ws, v) for v in row])
    wb.save(target)


def xlsx_chunks(sheets: Iterable[Sheet], chunk_size: int = 1 << 16) -> Iterator[bytes]:
    """The workbook's bytes in chunks (for a streamed download). The rows are written to a temporary
    file first: an XLSX is a zip whose directory comes last, so it cannot be sent before it is done."""
    with tempfile.TemporaryFile() as fh:
        write_xlsx(fh, sheets)
        fh.seek(0)
        while chunk := fh.read(chunk_size):
            yield chunk
