"""A rendered download: its file name, media type and bytes. Web handlers stream `body`; `idmx export`
writes it to a file, so the two give the same bytes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Download:
    filename: str
    media_type: str
    body: list[bytes]  # rendered already, so labels follow the language active when it was built

    def response(self):
        """A Litestar streaming response with the attachment's name."""
        from litestar.response import Stream

        return Stream(iter(self.body), media_type=self.media_type, headers={
            "Content-Disposition": f'attachment; filename="{self.filename}"'})
