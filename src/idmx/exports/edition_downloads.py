"""Downloads of a published IDMX edition: CSV, XLSX, JSON and the DCAT-AP catalogue (JSON-LD).

Public: a published edition is open data. Drafts answer 404 like their pages.
"""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream

from idmx import clock
from idmx.db import Database
from idmx.errors import NotFound
from idmx.exports import idmx_list
from idmx.i18n import current as current_lang
from idmx.i18n import gettext as _
from idmx.settings import Settings


def load(db: Database, series: str, version: int | None, lang: str) -> idmx_list.EditionExport:
    with db.read() as s:
        edition = idmx_list.find_published(s, series, version)
        return idmx_list.edition_export(s, edition, clock.local_date(clock.now()), lang)


class EditionDownloadController(Controller):
    path = "/idmx"

    @get("/{series:str}/{version_label:str}/{filename:str}", name="exports:edition", sync_to_thread=True)
    def download(self, request: Request, series: FromPath[str], version_label: FromPath[str], filename: FromPath[str],
                 db: NamedDependency[Database], settings: NamedDependency[Settings]) -> Stream:
        stem, _dot, fmt = filename.rpartition(".")
        number = version_label[1:] if version_label.startswith("v") else ""
        if stem != "idmx" or fmt not in idmx_list.FORMATS or not number.isdigit() or len(number) > 6:
            raise NotFound(_("There is no such download."))
        export = load(db, series, int(number), current_lang())
        body = list(idmx_list.render(export, fmt, settings.public_url, current_lang()))
        suffix = "jsonld" if fmt == "jsonld" else fmt
        return Stream(iter(body), media_type=idmx_list.FORMATS[fmt], headers={
            "content-disposition": f'attachment; filename="{export.meta.file_stem}.{suffix}"',
        })
