"""create_app(settings): the one place that wires plugins, middleware, routes and templates."""

from __future__ import annotations

import logging

from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from idmx import clock
from idmx.accounts.controllers import AccountController
from idmx.api.controllers import api_router
from idmx.api.openapi import openapi_config
from idmx.apitokens.controllers import ApiTokenController
from idmx.calendar.controllers import CalendarController
from idmx.consultation_admin.controllers import StaffConsultationController
from idmx.consultations.controllers import ConsultationController, ReportController
from idmx.consultations.participants import BurstLimits
from idmx.consultations.services import Arrivals
from idmx.counters import counters_for
from idmx.db import Database
from idmx.db.engine import WRITE_WAIT_S
from idmx.editions.controllers import EditionController
from idmx.exports.controllers import CentralExportController, ConsultationDataController
from idmx.idmx_list.controllers import PublicListController
from idmx.institution_admin.controllers import StaffInstitutionController
from idmx.institutions.controllers import InstitutionPlanController
from idmx.items.controllers import FollowController, PublicItemController
from idmx.moderation.controllers import ModerationController
from idmx.monitoring.controllers import MonitoringController
from idmx.notify import links as mail_links
from idmx.paths import STATIC_DIR
from idmx.plans.controllers import PlanController
from idmx.ranking.controllers import ResultsController
from idmx.reminders.controllers import DueController
from idmx.requests.controllers import DataRequestController, StaffDataRequestController
from idmx.settings import Settings
from idmx.site.controllers import SiteController
from idmx.staff.controllers import AuditLogController, StaffController
from idmx.web import check_request
from idmx.web.compression import compression_config
from idmx.web.csrf import MaskedCSRFMiddleware
from idmx.web.errors import EXCEPTION_HANDLERS
from idmx.web.headers import add_security_headers
from idmx.web.limits import Limiter, limits_for, rate_limit_middleware
from idmx.web.locale import locale_middleware
from idmx.web.stores import store_registry
from idmx.web.templates import jinja_environment
from idmx.web.timeouts import body_timeout_middleware

# Public forms carry a few kilobytes at most; CSV uploads for staff get their own, larger, limit.
MAX_BODY_BYTES = 1_000_000


def create_app(settings: Settings, db: Database | None = None) -> Litestar:
    database = db or Database(
        settings.database_url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow,
        lock_timeout_ms=int(WRITE_WAIT_S * 1000),  # a request never waits on a lock longer than on SQLite's writer
    )
    logging.getLogger("idmx").setLevel(logging.INFO)
    if settings.clock_offset is not None:  # IDMX_NOW / `idmx --now`: development and tests only
        clock.install(clock.OffsetClock(settings.clock_offset))
    mail_links.configure(settings)  # the site address and key for links in e-mails

    def provide_db() -> Database:
        return database

    def provide_settings() -> Settings:
        return settings

    counters = counters_for(settings.redis_url, database)
    limiter = Limiter(counters, limits_for(settings))
    arrivals = Arrivals(counters, BurstLimits(settings.new_respondents_per_hour_per_address,
                                              settings.new_respondents_per_hour_per_network))

    def provide_arrivals() -> Arrivals:
        return arrivals

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
            CalendarController,
            DueController,
            api_router(),
            ApiTokenController,
            StaffInstitutionController,
            create_static_files_router(path="/static", directories=[STATIC_DIR], name="static"),
        ],
        dependencies={
            "db": Provide(provide_db, sync_to_thread=False, use_cache=True),
            "settings": Provide(provide_settings, sync_to_thread=False, use_cache=True),
            "arrivals": Provide(provide_arrivals, sync_to_thread=False, use_cache=True),
        },
        plugins=[HTMXPlugin()],
        # CSRF last (innermost of these): a refusal is rate-limited and localised like any other answer.
        # The token is masked afresh in every page, so pages can be compressed (idmx.web.csrf).
        middleware=[body_timeout_middleware, locale_middleware, rate_limit_middleware(limiter),
                    DefineMiddleware(MaskedCSRFMiddleware, config=CSRFConfig(
                        secret=settings.secret_key,
                        cookie_name="idmx_csrf",
                        cookie_secure=settings.production,
                        cookie_httponly=False,
                        header_name="x-csrftoken",
                        exclude=["^/api/", "^/healthz$"],  # anchored: a consultation slugged "api" keeps its protection
                    ))],
        stores=store_registry(settings, database),
        template_config=TemplateConfig(engine=JinjaTemplateEngine.from_environment(jinja_environment())),
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        before_request=check_request,
        before_send=[add_security_headers],
        compression_config=compression_config(),  # text only (idmx.web.compression)
        request_max_body_size=MAX_BODY_BYTES,
        state=State({"settings": settings, "db": database, "counters": counters, "limiter": limiter}),
        on_shutdown=[on_shutdown],
        debug=False,
        openapi_config=openapi_config(),
        include_in_schema=False,  # only the API router documents itself (idmx.api.openapi)
    )
