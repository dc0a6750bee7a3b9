"""Privacy scan of export files: reusable by every export's tests (consultation data, editions,
plans, the API...).

    from tests.exports.scan import assert_clean

    assert_clean({"proposals.csv": body_bytes, "package.zip": zip_bytes, "plan.xlsx": xlsx_bytes},
                 literals={"hidden title": "Secreto ...", "raw token": token},
                 allowed_hex={run.fingerprint})

Every file is turned into text by its extension (``.zip`` is opened and each member scanned under
``package.zip/member``; ``.xlsx`` gives every cell of every sheet; ``.csv``, ``.json``, ``.txt``,
``.html`` are decoded as UTF-8) and searched for:

* e-mail addresses, IPv4 and IPv6 addresses (validated with `ipaddress`);
* 64-hex strings (SHA-256 token hashes) other than ``allowed_hex`` (e.g. published fingerprints);
* timestamps with a time of day (``2027-03-01T12:00`` or ``2027-03-01 12:00``), unless
  ``timestamps=False`` (documents with public times, such as an edition's publication or the API's
  consultation dates: pass the private times, e.g. when votes were cast, as literals instead);
* every literal in ``literals`` (raw tokens, hidden or pending titles, staff notes...), compared
  case-insensitively.
"""

from __future__ import annotations

import io
import ipaddress
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, time

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
IPV6_CANDIDATE = re.compile(r"(?<![0-9A-Za-z:])[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*(?![0-9A-Za-z:])")
HEX64 = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{64}(?![0-9A-Fa-f])")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}")


@dataclass(frozen=True)
class Finding:
    file: str
    kind: str
    match: str

    def __str__(self) -> str:
        return f"{self.file}: {self.kind} {self.match!r}"


def _ipv4(text: str) -> Iterator[str]:
    for m in IPV4.finditer(text):
        try:
            ipaddress.IPv4Address(m.group(0))
        except ValueError:
            continue
        yield m.group(0)


def _ipv6(text: str) -> Iterator[str]:
    for m in IPV6_CANDIDATE.finditer(text):
        candidate = m.group(0)
        if "::" not in candidate and candidate.count(":") < 7:
            continue  # "12:30:00" and other times are not addresses
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        yield candidate


def scan_text(name: str, text: str, *, literals: Mapping[str, str] | None = None,
              allowed_hex: Iterable[str] = (), timestamps: bool = True) -> list[Finding]:
    """Findings in one text."""
    allowed = {h.lower() for h in allowed_hex}
    found = [Finding(name, "e-mail address", x) for x in EMAIL.findall(text)]
    found += [Finding(name, "IPv4 address", x) for x in _ipv4(text)]
    found += [Finding(name, "IPv6 address", x) for x in _ipv6(text)]
    found += [Finding(name, "64-hex string (token hash?)", x) for x in HEX64.findall(text) if x.lower() not in allowed]
    if timestamps:
        found += [Finding(name, "timestamp with a time of day", x) for x in TIMESTAMP.findall(text)]
    lowered = text.lower()
    for label, literal in (literals or {}).items():
        if literal and literal.lower() in lowered:
            found.append(Finding(name, label, literal))
    return found


def _cell_text(value: object) -> str:
    """A spreadsheet cell as text. Date cells come back as midnight datetimes: they are dates, with no
    time of day to leak, so they read as ``2027-03-01``."""
    if value is None:
        return ""
    if isinstance(value, datetime) and value.time() == time(0):
        return value.date().isoformat()
    return str(value)


def texts(name: str, payload: bytes) -> Iterator[tuple[str, str]]:
    """(name, text) of a file, by extension; zips are opened and their members scanned."""
    lower = name.lower()
    if lower.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(payload)) as zf:
            for info in zf.infolist():
                y, mo, d, hh, mi, ss = info.date_time
                if (hh, mi, ss) != (0, 0, 0):  # an entry's time of day would tell when it was exported
                    yield f"{name}/{info.filename}", f"{y:04d}-{mo:02d}-{d:02d} {hh:02d}:{mi:02d}"
                yield from texts(f"{name}/{info.filename}", zf.read(info))
        return
    if lower.endswith(".xlsx"):
        from openpyxl import load_workbook

        wb = load_workbook(io.BytesIO(payload), read_only=True)
        try:
            for ws in wb.worksheets:
                cells = [_cell_text(v) for row in ws.iter_rows(values_only=True) for v in row]
                yield f"{name}[{ws.title}]", "\n".join(cells)
        finally:
            wb.close()
        return
    yield name, payload.decode("utf-8-sig")


def scan_files(files: Mapping[str, bytes], *, literals: Mapping[str, str] | None = None,
               allowed_hex: Iterable[str] = (), timestamps: bool = True) -> list[Finding]:
    allowed = list(allowed_hex)
    found: list[Finding] = []
    for name, payload in files.items():
        for part, text in texts(name, payload):
            found += scan_text(part, text, literals=literals, allowed_hex=allowed, timestamps=timestamps)
    return found


def assert_clean(files: Mapping[str, bytes], *, literals: Mapping[str, str] | None = None,
                 allowed_hex: Iterable[str] = (), timestamps: bool = True) -> None:
    """Fail listing every finding (and first make sure the scan was given something to scan)."""
    assert files, "nothing to scan"
    found = scan_files(files, literals=literals, allowed_hex=allowed_hex, timestamps=timestamps)
    assert not found, "private data in exports:\n" + "\n".join(map(str, found))
