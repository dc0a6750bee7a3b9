"""Site-wide pages: home, the privacy notice, terms, contact and method pages, health checks, language
switch and the favicon."""

from __future__ import annotations

from datetime import date

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from idmx import clock
from idmx.db import Database
from idmx.i18n import LANGUAGES
from idmx.paths import STATIC_DIR
from idmx.settings import Settings
from idmx.site import services
from idmx.web import page, see_other
from idmx.web.locale import LANG_COOKIE

# The notices say when they last changed; change this date with their text.
NOTICES_UPDATED = date(2026, 12, 7)
FAVICON = STATIC_DIR / "favicon.ico"


class SiteController(Controller):
    @get("/", name="site:home", sync_to_thread=True)
    def home(self, request: Request, db: NamedDependency[Database]) -> Template:
        groups = services.consultation_listing(db, clock.now())
        return page(request, "site/home.html", {"groups": groups})

    @get("/privacy", name="site:privacy")
    async def privacy(self, request: Request, settings: NamedDependency[Settings]) -> Template:
        return page(request, "site/privacy.html", _notice_context(settings))

    @get("/terms", name="site:terms")
    async def terms(self, request: Request, settings: NamedDependency[Settings]) -> Template:
        return page(request, "site/terms.html", _notice_context(settings))

    @get("/contact", name="site:contact")
    async def contact(self, request: Request, settings: NamedDependency[Settings]) -> Template:
        return page(request, "site/contact.html", _notice_context(settings))

    @get("/how-ranking-works", name="site:methodology")
    async def methodology(self, request: Request) -> Template:
        return page(request, "site/methodology.html", {"updated": NOTICES_UPDATED})

    @get("/favicon.ico", name="site:favicon", include_in_schema=False)
    async def favicon(self) -> Response:
        """Browsers ask for /favicon.ico whatever the page says; the same icon as the static file."""
        return Response(FAVICON.read_bytes(), media_type="image/x-icon",
                        headers={"Cache-Control": "public, max-age=604800"})

    @get("/livez", name="site:live", include_in_schema=False)
    async def live(self) -> Response:
        """Liveness: the process answers. Touches nothing else, so a database outage never gets a
        healthy app process restarted."""
        return Response({"status": "ok"}, status_code=200, headers={"Cache-Control": "no-store"})

    @get("/readyz", name="site:ready", sync_to_thread=True, include_in_schema=False)
    def ready(self, db: NamedDependency[Database]) -> Response:
        """Readiness: the database answers (within its connect timeout). A load balancer stops sending
        traffic here while it says 503; the app reconnects by itself when the database is back."""
        return _readiness(db)

    @get("/healthz", name="site:health", sync_to_thread=True, include_in_schema=False)
    def health(self, db: NamedDependency[Database]) -> Response:
        """The same as /readyz (its earlier name)."""
        return _readiness(db)

    @post("/language", name="site:language")
    async def set_language(self, request: Request) -> Redirect:
        form = await request.form()
        lang = form.get("lang", "")
        target = form.get("next", "/")
        # Only same-site relative paths: the switcher must not become an open redirect.
        if not isinstance(target, str) or not target.startswith("/") or target.startswith("//"):
            target = "/"
        response = see_other(target)
        if lang in LANGUAGES:
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
        return response


def _notice_context(settings: Settings) -> dict:
    return {"controller_name": settings.controller_name, "controller_contact": settings.controller_contact,
            "updated": NOTICES_UPDATED, "respondent_cookie_years": 2}


def _readiness(db: Database) -> Response:
    try:
        ok = db.ping()
        detail = "ok"
    except Exception as exc:  # the point of a health check is to report, not to raise
        ok, detail = False, type(exc).__name__
    body = {"status": "ok" if ok else "error", "database": {"status": detail, "backend": db.engine.dialect.name}}
    headers = {"Cache-Control": "no-store", **({} if ok else {"Retry-After": "10"})}
    return Response(body, status_code=200 if ok else 503, headers=headers)
