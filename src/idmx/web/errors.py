"""How refusals and failures render: HTML pages for browsers, fragments for htmx, JSON for /api.

One place maps every exception to its response (`EXCEPTION_HANDLERS`, wired by `create_app`)."""

from __future__ import annotations

import logging

from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from idmx.db.faults import INCIDENTS, RETRY_AFTER, unavailability
from idmx.errors import DomainError
from idmx.i18n import gettext as _

log = logging.getLogger("idmx")


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _render(request: Request, status: int, title: str, message: str, field: str | None = None,
            headers: dict[str, str] | None = None) -> Response:
    if _is_api(request):
        body: dict[str, object] = {"status_code": status, "detail": message}
        if field:
            body["field"] = field
        return Response(body, status_code=status, media_type=MediaType.JSON, headers=headers)
    template = "errors/_message.html" if request.headers.get("hx-request") == "true" else "errors/error.html"
    return Template(
        template_name=template,
        context={"status": status, "title": title, "message": message},
        status_code=status,
        headers={"Vary": "HX-Request", **(headers or {})},
    )


def domain_error_handler(request: Request, exc: DomainError) -> Response:
    titles = {404: _("Not found"), 409: _("This cannot be done now"), 503: _("Service briefly unavailable")}
    retry = getattr(exc, "retry_after", None)
    return _render(request, exc.status_code, titles.get(exc.status_code, _("Request refused")), exc.message, exc.field,
                   headers={"Retry-After": str(retry)} if retry is not None else None)


def http_error_handler(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if isinstance(exc, NotAuthorizedException) and not _is_api(request):
        from urllib.parse import quote

        target = "/staff/login?next=" + quote(request.url.path, safe="/")
        if request.headers.get("hx-request") == "true":  # htmx follows HX-Redirect, not a 303 inside a swap
            return Response("", status_code=401, headers={"HX-Redirect": target})
        return Redirect(target, status_code=303)
    if _is_api(request) and isinstance(exc, ValidationException):
        return Response(
            {"status_code": status, "detail": exc.detail, "extra": exc.extra},
            status_code=status,
            media_type=MediaType.JSON,
        )
    messages = {
        NotFoundException: (_("Not found"), _("The page you are looking for does not exist.")),
        NotAuthorizedException: (_("Sign-in required"), _("Please sign in to continue.")),
        PermissionDeniedException: (_("Not allowed"), _("You do not have permission to do this.")),
    }
    title, message = messages.get(type(exc), (_("Request refused"), str(exc.detail)))
    if status == 403 and "csrf" in str(exc.detail).lower():
        title, message = _("Form expired"), _("The form expired or was sent from another site. Reload the page and try again.")
    if status == 429:
        title, message = _("Too many requests"), _("You are sending too many requests. Please wait a moment and try again.")
    if status == 413:
        title, message = _("Too large"), _("What you sent is too large.")
    if status == 408:
        title, message = _("Too slow"), _("What you sent stopped arriving before it was complete. Nothing was saved: please try again.")
    # Retry-After (429, 503) and the like travel with the rendered page.
    return _render(request, status, title, message, headers=dict(exc.headers or {}))


def _unavailable_message(kind: str) -> str:
    if kind == "busy":
        return _("The site is very busy right now. Nothing was saved: please try again in a few seconds.")
    if kind == "unavailable":
        return _("The database is not answering right now. Nothing was saved: please try again in a moment.")
    return _("The site cannot save anything right now. Nothing was saved: please try again later.")


def server_error_handler(request: Request, exc: Exception) -> Response:
    kind = unavailability(exc)
    if kind is not None:  # an outage, not a bug: 503, and one log line per incident rather than per request
        INCIDENTS.note(kind, exc, f"{request.method} {request.url.path}")
        return _render(request, 503, _("Service briefly unavailable"), _unavailable_message(kind),
                       headers={"Retry-After": str(RETRY_AFTER[kind])})
    if isinstance(exc, RecursionError):  # e.g. JSON nested thousands deep: the request's fault, not ours
        return _render(request, 400, _("Request refused"), _("What you sent is nested too deeply."))
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _render(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        _("Something went wrong"),
        _("We could not complete your request. Nothing was stored: please try again."),
    )


EXCEPTION_HANDLERS = {
    DomainError: domain_error_handler,
    HTTPException: http_error_handler,
    Exception: server_error_handler,
}
