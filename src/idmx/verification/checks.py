"""Is a published address serving data? Pure judgement of what a fetch returned (no network here).

The fetch (`idmx.verification.http`) gives a status, a content type and the first bytes of the body;
`judge` says:

- ``ok``: a success status and a machine-readable format (CSV, JSON, XML, a spreadsheet, a ZIP,
  Parquet...), by declared content type or, when the server declares something vague
  (``application/octet-stream``, ``text/plain``), by the bytes themselves;
- ``not_machine_readable``: it answers, but with a web page, a PDF, an image...: the central team
  may reject the claim; the item stays published;
- ``broken``: no answer, an error status (4xx, 5xx), too many redirects;
- ``refused``: the address is not one the platform fetches (a private or local network address,
  another scheme): treated as unverified, never as broken.

`should_reopen` decides when a broken address reopens its item: at once when a newly published address
answers with an error status (the institution has just claimed it works), and otherwise only when the
previous check of the same address was broken too, so one network hiccup (of the site's or of ours: no
answer at all is never final on its own) does not reopen a dataset.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

OK, NOT_MACHINE_READABLE, BROKEN, REFUSED = "ok", "not_machine_readable", "broken", "refused"

# Declared content types (without parameters) and the format each means.
MACHINE_READABLE: dict[str, str] = {
    "text/csv": "csv",
    "application/csv": "csv",
    "text/tab-separated-values": "tsv",
    "application/json": "json",
    "application/ld+json": "json",
    "application/geo+json": "geojson",
    "application/x-ndjson": "json",
    "application/xml": "xml",
    "text/xml": "xml",
    "application/rdf+xml": "rdf",
    "text/turtle": "rdf",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/zip": "zip",
    "application/x-zip-compressed": "zip",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
    "application/vnd.google-earth.kml+xml": "kml",
}
VAGUE = {"", "application/octet-stream", "text/plain", "binary/octet-stream", "application/download",
         "application/force-download"}
NOT_DATA = {"text/html": "html", "application/xhtml+xml": "html", "application/pdf": "pdf"}


@dataclass(frozen=True)
class Fetched:
    """What a fetch returned: status (None when nothing answered), declared type, the body's first bytes."""

    status: int | None
    content_type: str = ""
    head: bytes = b""
    error: str = ""
    refused: bool = False


@dataclass(frozen=True)
class Verdict:
    outcome: str
    data_format: str = ""
    problem: str = ""
    answered: bool = True  # False: nothing answered (a timeout, a refused connection, an unknown host)


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def sniff(head: bytes) -> str:
    """The format the first bytes look like: csv, json, xml, zip (xlsx and ods are ZIPs), parquet, html, pdf, or ""."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"PK\x03\x04"):
        return "zip"
    if text.startswith(b"PAR1"):
        return "parquet"
    if text.startswith(b"%PDF"):
        return "pdf"
    lowered = text[:512].lower()
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<html" in lowered[:200]:
        return "html"
    if lowered.startswith(b"<?xml") or lowered.startswith(b"<"):
        return "xml"
    if text[:1] in (b"{", b"["):
        try:
            json.loads(head.decode("utf-8"))
            return "json"
        except (UnicodeDecodeError, ValueError):
            # Only the beginning of a long document was read: believe its first character.
            return "json"
    return "csv" if _looks_like_csv(text) else ""


def _looks_like_csv(text: bytes) -> bool:
    try:
        lines = [line for line in text.decode("utf-8").splitlines()[:6] if line.strip()]
    except UnicodeDecodeError:
        try:
            lines = [line for line in text.decode("latin-1").splitlines()[:6] if line.strip()]
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
            return False
    if len(lines) < 2:
        return False
    for sep in (",", ";", "\t", "|"):
        counts = {line.count(sep) for line in lines[:-1]}  # the last line may be cut short
        if len(counts) == 1 and counts.pop() > 0:
            return True
    return False


def judge(fetched: Fetched) -> Verdict:
    if fetched.refused:
        return Verdict(REFUSED, problem=fetched.error)
    if fetched.status is None:
        return Verdict(BROKEN, problem=fetched.error or "no answer", answered=False)
    if not 200 <= fetched.status < 300:
        return Verdict(BROKEN, problem=f"HTTP {fetched.status}")
    declared = media_type(fetched.content_type)
    if declared in MACHINE_READABLE:
        return Verdict(OK, MACHINE_READABLE[declared])
    sniffed = sniff(fetched.head)
    if declared in NOT_DATA or sniffed in ("html", "pdf"):
        return Verdict(NOT_MACHINE_READABLE, NOT_DATA.get(declared, sniffed),
                       f"{declared or 'no content type'}: a document for people, not data")
    if declared in VAGUE and sniffed:
        return Verdict(OK, sniffed)
    return Verdict(NOT_MACHINE_READABLE, sniffed, f"{declared or 'no content type'} is not a data format")


def should_reopen(verdict: Verdict, previous: str | None) -> bool:
    """`previous`: the last outcome for the same address, None when this is its first check."""
    if verdict.outcome != BROKEN:
        return False
    return previous == BROKEN or (previous is None and verdict.answered)
