"""Site-wide pages: home, health check, language switch."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from idmx import clock
from idmx.db import Database
from idmx.i18n import LANGUAGES
from idmx.site import services
from idmx.web import page, see_other
from idmx.web.locale import LANG_COOKIE


class SiteController(Controller):
    @get("/", name="site:home", sync_to_thread=True)
    def home(self, request: Request, db: NamedDependency[Database]) -> Template:
        groups = services.consultation_listing(db, clock.now())
        return page(request, "site/home.html", {"groups": groups})

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


def _readiness(db: Database) -> Response:
    try:
        ok = db.ping()
        detail = "ok"
    except Exception as exc:  # the point of a health check is to report, not to raise
        ok, detail = False, type(exc).__name__
    body = {"status": "ok" if ok else "error", "database": {"status": detail, "backend": db.engine.dialect.name}}
    headers = {"Cache-Control": "no-store", **({} if ok else {"Retry-After": "10"})}
    return Response(body, status_code=200 if ok else 503, headers=headers)
