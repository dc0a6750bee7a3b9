"""create_app(settings): the one place that wires plugins, middleware, routes and templates."""

from __future__ import annotations

import logging

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Litestar, Request
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp, Receive, Scope, Send

from idmx import __version__, i18n
from idmx.accounts.controllers import AccountController
from idmx.api.controllers import api_router
from idmx.api.openapi import openapi_config
from idmx.apitokens.controllers import ApiTokenController
from idmx.consultation_admin.controllers import StaffConsultationController
from idmx.consultations.controllers import ConsultationController, ReportController
from idmx.db import Database
from idmx.editions.controllers import EditionController
from idmx.exports.controllers import CentralExportController, ConsultationDataController
from idmx.idmx_list.controllers import PublicListController
from idmx.institutions.controllers import InstitutionPlanController
from idmx.items.controllers import FollowController, PublicItemController
from idmx.moderation.controllers import ModerationController
from idmx.monitoring.controllers import MonitoringController
from idmx.notify import links as mail_links
from idmx.paths import STATIC_DIR, templates_dir
from idmx.plans.controllers import PlanController
from idmx.ranking.controllers import ResultsController
from idmx.requests.controllers import DataRequestController, StaffDataRequestController
from idmx.settings import Settings
from idmx.site.controllers import LANG_COOKIE, SiteController
from idmx.staff.controllers import AuditLogController, StaffController
from idmx.web import reject_impossible_ids
from idmx.web.errors import EXCEPTION_HANDLERS
from idmx.web.limits import rate_limit_middleware, store_registry

HTMX_FILE = "vendor/htmx-2.0.11.min.js"
# Public forms carry a few kilobytes at most; CSV uploads for staff get their own, larger, limit.
MAX_BODY_BYTES = 1_000_000


def locale_middleware(app: ASGIApp) -> ASGIApp:
    """Pick the request's language: ?lang=, then the cookie, then Accept-Language, then Spanish."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        request: Request = Request(scope)
        lang = i18n.negotiate(
            request.query_params.get("lang") or request.cookies.get(LANG_COOKIE),
            request.headers.get("accept-language"),
        )
        token = i18n.activate(lang)
        try:
            await app(scope, receive, send)
        finally:
            i18n.deactivate(token)

    return middleware


def jinja_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(templates_dir()),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(
        lang=i18n.current,
        languages=i18n.LANGUAGE_NAMES,
        htmx_file=HTMX_FILE,
        version=__version__,
    )
    env.filters.update(
        datetime=i18n.format_datetime,
        date=i18n.format_date,
        number=i18n.format_number,
        percent=i18n.format_percent,
    )
    return env


def create_app(settings: Settings, db: Database | None = None) -> Litestar:
    database = db or Database(
        settings.database_url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
    )
    logging.getLogger("idmx").setLevel(logging.INFO)
    mail_links.configure(settings)  # the site address and key for links in e-mails

    def provide_db() -> Database:
        return database

    def provide_settings() -> Settings:
        return settings

    async def on_shutdown(app: Litestar) -> None:
        if db is None:  # only dispose what we created; tests own theirs
            database.dispose()

    return Litestar(
        route_handlers=[
            SiteController,
            CentralExportController,
            ConsultationController,
            ResultsController,
            ConsultationDataController,
            AccountController,
            StaffController,
            ModerationController,
            AuditLogController,
            ReportController,
            StaffConsultationController,
            PlanController,
            EditionController,
            PublicListController,
            InstitutionPlanController,
            PublicItemController,
            FollowController,
            DataRequestController,
            StaffDataRequestController,
            MonitoringController,
            api_router(),
            ApiTokenController,
            create_static_files_router(path="/static", directories=[STATIC_DIR], name="static"),
        ],
        dependencies={
            "db": Provide(provide_db, sync_to_thread=False, use_cache=True),
            "settings": Provide(provide_settings, sync_to_thread=False, use_cache=True),
        },
        plugins=[HTMXPlugin()],
        middleware=[locale_middleware, rate_limit_middleware(settings)],
        stores=store_registry(settings),
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_name="idmx_csrf",
            cookie_secure=settings.production,
            cookie_httponly=False,
            header_name="x-csrftoken",
            exclude=["/api/", "/healthz"],
        ),
        template_config=TemplateConfig(engine=JinjaTemplateEngine.from_environment(jinja_environment())),
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        before_request=reject_impossible_ids,
        request_max_body_size=MAX_BODY_BYTES,
        state=State({"settings": settings, "db": database}),
        on_shutdown=[on_shutdown],
        debug=False,
        openapi_config=openapi_config(),
        include_in_schema=False,  # only the API router documents itself (idmx.api.openapi)
    )
