"""The request's language: ?lang=, then the cookie the language switch sets, then Accept-Language, then Spanish."""

from __future__ import annotations

from litestar import Request
from litestar.types import ASGIApp, Receive, Scope, Send

from idmx import i18n

LANG_COOKIE = "idmx_lang"


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
