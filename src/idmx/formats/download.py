"""A rendered download: its file name, media type and bytes. Web handlers stream `body`; `idmx export`
writes it to a file, so the two give the same bytes (`idmx.web.attachment` streams it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Download:
    filename: str
    media_type: str
    body: list[bytes]  # rendered already, so labels follow the language active when it was built

