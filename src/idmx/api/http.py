"""HTTP details of the JSON API: cacheable responses (ETag, Last-Modified, 304) and JSON errors naming fields."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    ValidationException,
)
from litestar.openapi.datastructures import ResponseSpec

from idmx.api.schemas import ErrorBody, ErrorItem
from idmx.errors import DomainError
from idmx.i18n import gettext as _
from idmx.plans import labels
from idmx.plans.policy import TransitionError

MAX_AGE = 60
IMMUTABLE_MAX_AGE = 3600


def etag_of(body: bytes) -> str:
    """A strong validator: the hash of the exact bytes sent."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(if_none_match: str, etag: str) -> bool:
    candidates = [c.strip() for c in if_none_match.split(",")]
    return "*" in candidates or any(c.removeprefix("W/") == etag for c in candidates)


def _not_modified_since(request: Request, last_modified: datetime | None) -> bool:
    raw = request.headers.get("if-modified-since")
    if not raw or last_modified is None:
        return False
    try:
        since = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    return last_modified.replace(microsecond=0) <= since


def cached(
    request: Request,
    content: Any,
    *,
    last_modified: datetime | None = None,
    max_age: int = MAX_AGE,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    """A public JSON response with its validators; 304 without a body when the client's copy is current."""
    body = msgspec.json.encode(content)
    etag = etag_of(body)
    # Public data without cookies or credentials: any web page may read it.
    out = {"ETag": etag, "Cache-Control": f"public, max-age={max_age}", "Access-Control-Allow-Origin": "*",
           **(headers or {})}
    if last_modified is not None:
        out["Last-Modified"] = format_datetime(last_modified.astimezone(timezone.utc), usegmt=True)
    if_none_match = request.headers.get("if-none-match")
    fresh = _matches(if_none_match, etag) if if_none_match else _not_modified_since(request, last_modified)
    if fresh:
        return Response(content=b"", status_code=304, headers=out)
    return Response(content=body, media_type=MediaType.JSON, headers=out)


# --- errors -----------------------------------------------------------------------------------------------


def error_response(status: int, detail: str, errors: list[ErrorItem], headers: dict[str, str] | None = None) -> Response[Any]:
    body = ErrorBody(status_code=status, detail=detail, errors=errors or [ErrorItem(field=None, message=detail)])
    return Response(content=msgspec.json.encode(body), status_code=status, media_type=MediaType.JSON, headers=headers)


_MISSING = re.compile(r"missing required field `([^`]+)`")


def _validation_items(exc: ValidationException) -> list[ErrorItem]:
    """One entry per problem; a missing body field is named by msgspec only in the message."""
    items = []
    for extra in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(extra, dict):
            key, message = extra.get("key"), str(extra.get("message") or exc.detail)
            missing = _MISSING.search(message)
            if missing and key in (None, "data"):
                key = missing.group(1)
            items.append(ErrorItem(field=str(key) if key else None, message=message))
    return items


def http_error(request: Request, exc: HTTPException) -> Response[Any]:
    if isinstance(exc, ValidationException):
        items = _validation_items(exc)
        return error_response(400, _("The request is not valid."), items)
    headers = dict(exc.headers or {})
    if isinstance(exc, NotAuthorizedException):
        headers.setdefault("WWW-Authenticate", 'Bearer realm="idmx"')
    detail = str(exc.detail) if exc.detail else _("Request refused")
    return error_response(exc.status_code, detail, [], headers)


def domain_error(request: Request, exc: DomainError) -> Response[Any]:
    return error_response(exc.status_code, exc.message, [ErrorItem(field=exc.field, message=exc.message)])


def transition_error(request: Request, exc: TransitionError) -> Response[Any]:
    """A refused answer: 409 when the item's current status forbids the move, 422 for a bad value."""
    status = 409 if exc.field == "status" else 422
    message = labels.transition_message(str(exc))
    return error_response(status, message, [ErrorItem(field=exc.field, message=message)])


EXCEPTION_HANDLERS: dict[Any, Any] = {
    HTTPException: http_error,
    DomainError: domain_error,
    TransitionError: transition_error,
}


def _spec(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=ErrorBody, description=description)


NOT_MODIFIED = ResponseSpec(data_container=None, description="Not modified: the copy named by If-None-Match is current.")
READ_RESPONSES = {
    304: NOT_MODIFIED,
    400: _spec("Invalid query parameters; each error names its parameter."),
}
DETAIL_RESPONSES = {**READ_RESPONSES, 404: _spec("Not found, or not public.")}
WRITE_RESPONSES = {
    400: _spec("Malformed JSON or a value of the wrong type; each error names its field."),
    401: _spec("Missing, unknown or revoked API token."),
    404: _spec("No such plan item in the token's institution."),
    409: _spec("The item's current status does not allow this answer (field `status`)."),
    422: _spec("The answer breaks a rule of the deadline policy; the error names the field."),
    429: _spec("Too many writes with this token; see Retry-After."),
}
