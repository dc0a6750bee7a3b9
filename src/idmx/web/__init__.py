"""Page-or-fragment rendering and small request helpers shared by every controller."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl

from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body
from litestar.response import Redirect, Stream, Template

from idmx.errors import DomainError
from idmx.fields import form_int  # noqa: F401  (re-exported: controllers read ids from query strings)
from idmx.formats.download import Download
from idmx.i18n import gettext as _

# An HTML form body as a plain dict: forms.py validates it and re-renders the form with messages.
FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]

# Anything that answers htmx and plain requests differently must say so to caches.
VARY = {"Vary": "HX-Request"}


def wants_fragment(request: Request) -> bool:
    """True for an htmx swap; boosted navigation and history restore need the whole page."""
    headers = request.headers
    return (
        headers.get("hx-request") == "true"
        and headers.get("hx-boosted") != "true"
        and headers.get("hx-history-restore-request") != "true"
    )


def page(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    fragment: str | None = None,
    status_code: int = 200,
) -> Template:
    """Render `template`, or only its partial `fragment` when htmx asks for a swap.

    The page template includes the same partial, so both answers always agree.
    """
    name = fragment if fragment and wants_fragment(request) else template
    return Template(template_name=name, context=context or {}, status_code=status_code, headers=VARY)


def attachment(download: Download) -> Stream:
    """A rendered download as a streamed attachment with its file name."""
    return Stream(iter(download.body), media_type=download.media_type, headers={
        "Content-Disposition": f'attachment; filename="{download.filename}"'})


def see_other(url: str) -> Redirect:
    """Redirect after POST with 303 so the browser follows with GET."""
    return Redirect(url, status_code=303)


def safe_next(value: Any, default: str, prefix: str = "/") -> str:
    """A same-site path under `prefix` to go back to, so no form becomes an open redirect."""
    if isinstance(value, str) and value.startswith(prefix) and not value.startswith("//"):
        return value
    return default


INT4_MAX = 2_147_483_647
# Path ids whose table has 64-bit keys; every other id column is a 32-bit integer on PostgreSQL.
_BIGINT_PATH_IDS = frozenset({"report_id"})


async def check_request(request: Request) -> None:
    """``before_request`` of every route: ids no row can have, and form bodies that are not UTF-8 text."""
    reject_impossible_ids(request)
    if request.method == "POST" and request.content_type[0] == RequestEncodingType.URL_ENCODED:
        body = await request.body()  # kept by the request: the handler's form parsing reads it again
        try:
            parse_qsl(body.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            raise DomainError(_("The form was not sent as UTF-8 text. Nothing was saved.")) from None


def reject_impossible_ids(request: Request) -> None:
    """``before_request``: an id in the path that no row can have is a 404, not a database error.

    ``{x:int}`` accepts any integer; SQLite cannot bind one past 64 bits and PostgreSQL refuses one
    past its column's type, and both errors would otherwise surface as a 500. (The API declares
    its ids' range in its schema and answers 400 for them.)
    """
    if request.url.path.startswith("/api/"):
        return
    for name, value in request.path_params.items():
        if isinstance(value, int) and not 0 <= value <= (2**63 - 1 if name in _BIGINT_PATH_IDS else INT4_MAX):
            raise NotFoundException()
