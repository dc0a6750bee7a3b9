"""The public IDMX list: every published edition (/idmx), one edition's page, and its downloads (CSV, XLSX,
JSON and the DCAT-AP catalogue in JSON-LD). A published edition is open data; drafts answer 404 like their pages.
"""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Stream, Template

from idmx import clock
from idmx.db import Database
from idmx.errors import NotFound
from idmx.i18n import current as current_lang
from idmx.i18n import gettext as _
from idmx.idmx_list import export, services
from idmx.plans import labels
from idmx.settings import Settings
from idmx.web import page


class PublicListController(Controller):
    path = "/idmx"

    @get("/", name="idmx:list", sync_to_thread=True)
    def index(self, request: Request, db: NamedDependency[Database]) -> Template:
        return page(request, "idmx/list.html", {"rows": services.public_listing(db)})

    @get("/{series:str}", name="idmx:series", sync_to_thread=True)
    def series(self, request: Request, series: FromPath[str], db: NamedDependency[Database]) -> Redirect:
        version = services.latest_version(db, series)
        if version is None:
            raise NotFound(_("There is no published IDMX edition with this name."))
        return Redirect(request.app.route_reverse("idmx:edition", series=series, version_label=f"v{version}"),
                        status_code=302)

    @get("/{series:str}/{version_label:str}", name="idmx:edition", sync_to_thread=True)
    def edition(self, request: Request, series: FromPath[str], version_label: FromPath[str],
                db: NamedDependency[Database]) -> Template:
        number = version_label[1:] if version_label.startswith("v") else ""
        if not number.isdigit() or len(number) > 6:
            raise NotFound(_("There is no published IDMX edition with this number."))
        view = services.public_edition(db, series, int(number), clock.local_date(clock.now()))
        return page(request, "idmx/edition.html", {"view": view, "e": view.edition, "status_label": labels.status_label})

    @get("/{series:str}/{version_label:str}/{filename:str}", name="exports:edition", sync_to_thread=True)
    def download(self, request: Request, series: FromPath[str], version_label: FromPath[str], filename: FromPath[str],
                 db: NamedDependency[Database], settings: NamedDependency[Settings]) -> Stream:
        stem, _dot, fmt = filename.rpartition(".")
        number = version_label[1:] if version_label.startswith("v") else ""
        if stem != "idmx" or fmt not in export.FORMATS or not number.isdigit() or len(number) > 6:
            raise NotFound(_("There is no such download."))
        rows = services.load(db, series, int(number), current_lang())
        body = list(export.render(rows, fmt, settings.base_url, current_lang()))
        return Stream(iter(body), media_type=export.FORMATS[fmt], headers={
            "content-disposition": f'attachment; filename="{rows.meta.file_stem}.{fmt}"',
        })
