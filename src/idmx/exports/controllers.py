"""Downloads: a closed consultation's open data, and the central team's page of every public download.

The consultation data (`idmx.exports.services`):

``/c/{slug}/data`` lists the files; ``/c/{slug}/data/<file>`` streams one of them, or the whole
package as a zip. Only closed consultations have data to download (409 while open or upcoming, 404
for drafts). Handlers run in the worker thread pool; the downloads stream from database cursors.

``/staff/exports`` (central team only) links every published IDMX edition, every institution's plan and
all plans in one file, the compliance figures and the open data of every closed consultation. It only
links: each download is the public one, built by the same code as `idmx export`.
"""

from __future__ import annotations

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream, Template

from idmx import clock
from idmx.accounts.guards import CENTRAL, principal_of, staff_guard
from idmx.consultations import services as participation
from idmx.db import Database
from idmx.errors import NotFound
from idmx.exports import services as data
from idmx.formats.xlsx import XLSX_MEDIA_TYPE
from idmx.i18n import gettext as _
from idmx.idmx_list import export as idmx_list
from idmx.monitoring import compliance
from idmx.plans import export as plan_export
from idmx.settings import Settings
from idmx.web import page

ONLY_CENTRAL = {"roles": CENTRAL}
MEDIA = {"csv": "text/csv; charset=utf-8", "json": "application/json", "zip": "application/zip", "xlsx": XLSX_MEDIA_TYPE}



def _descriptions(method: str) -> dict[str, str]:
    return {
        "proposals.csv": _("Published proposals, and merged ones with the proposal they were merged into."),
        "respondents.csv": _("Respondents: sector, region, state and number of votes, generalised until every "
                             "group holds at least k people (k and the remaining risk are in datapackage.json)."),
        "cells.csv": _("Weighting cells of the published ranking and how many respondents each holds."),
        "statistics.csv": _("Sufficient statistics of the votes per proposal and weighting cell, from which "
                            "idmx rank reproduces the ranking (no vote is tied to a respondent)."),
        "targets.csv": _("Weighting targets of the published ranking."),
        "ranking.csv": _("The published ranking, exactly as idmx rank writes it."),
        "runs.csv": _("Ranking runs computed after closing, with their parameters and input fingerprints."),
        "run_targets.csv": _("Weighting targets of each run."),
        "run_results.csv": _("Results of each run."),
        "datapackage.json": _("Description of the files and the command that reproduces the ranking."),
    }


class ConsultationDataController(Controller):
    path = "/c/{slug:str}/data"

    def _info(self, db: Database, slug: str, k: int) -> tuple[participation.ConsultationView, data.ExportInfo]:
        view = participation.get_consultation(db, slug)  # drafts: 404
        now = clock.now()
        return view, data.package_info(db, slug, now, k=k)  # open or upcoming: 409

    @get("/", name="exports:consultation_data", sync_to_thread=True)
    def index(self, request: Request, slug: FromPath[str], db: NamedDependency[Database],
              settings: NamedDependency[Settings]) -> Template:
        view, info = self._info(db, slug, settings.disclosure_k)
        run = data.published_run(db, info)
        context = {
            "view": view, "c": view.consultation, "phase": view.phase(clock.now()), "info": info, "run": run,
            "files": [(name, _descriptions(info.method)[name], name in data.DOWNLOADABLE) for name in data.PACKAGE_FILES],
            "xlsx": "proposals.xlsx",
            "command": data.reproduce_command(info, run),
        }
        return page(request, "exports/consultation_data.html", context)

    @get("/{filename:str}", name="exports:consultation_file", sync_to_thread=True)
    def download(self, slug: FromPath[str], filename: FromPath[str], db: NamedDependency[Database],
                 settings: NamedDependency[Settings]) -> Response:
        _view, info = self._info(db, slug, settings.disclosure_k)
        name = filename
        # The protected inputs are built before streaming starts, so a refusal is a whole answer.
        if name == info.zip_name:
            body = data.zip_chunks(db, info, pub=data.prepare(db, info))
        elif name in data.DOWNLOADABLE:
            body = data.file_chunks(db, info, name, data.prepare(db, info, (name,)))
        else:
            raise NotFound(_("There is no such file in this consultation's data."))
        stem = name if name == info.zip_name else f"idmx-{info.slug}-{name}"
        headers = {"Content-Disposition": f'attachment; filename="{stem}"', "X-Content-Type-Options": "nosniff"}
        return Stream(body, media_type=MEDIA[name.rsplit(".", 1)[1]], headers=headers)


class CentralExportController(Controller):
    path = "/staff/exports"
    guards = (staff_guard,)

    @get("/", name="staff_exports:index", opt=ONLY_CENTRAL, sync_to_thread=True)
    def index(self, request: Request, db: NamedDependency[Database]) -> Template:
        return page(request, "exports/central.html", {
            "me": principal_of(request), "cat": data.catalogue(db),
            "edition_formats": list(idmx_list.FORMATS), "plan_formats": list(plan_export.FORMATS),
            "compliance_formats": list(compliance.FORMATS),
        })
