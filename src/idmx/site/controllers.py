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

    @get("/healthz", name="site:health", sync_to_thread=True, include_in_schema=False)
    def health(self, db: NamedDependency[Database]) -> Response:
        try:
            ok = db.ping()
            detail = "ok"
        except Exception as exc:  # the point of a health check is to report, not to raise
            ok, detail = False, type(exc).__name__
        body = {"status": "ok" if ok else "error", "database": {"status": detail, "backend": db.engine.dialect.name}}
        return Response(body, status_code=200 if ok else 503)

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
