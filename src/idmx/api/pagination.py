"""Pages of results: `?page=&per_page=` in, `total/page/per_page/items/next/prev` and an RFC 8288 Link header out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request
from litestar.params import QueryParameter
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20

PageParam = Annotated[int, QueryParameter(ge=1, le=1_000_000, description="Page number, from 1.")]
PerPageParam = Annotated[int, QueryParameter(ge=1, le=MAX_PER_PAGE, description=f"Items per page (at most {MAX_PER_PAGE}).")]


@dataclass(frozen=True)
class Window:
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def count_and_fetch(s: Session, query: Select[Any], window: Window) -> tuple[int, list[Any]]:
    """The total number of rows of `query` and the rows of one page (the query must be ordered)."""
    total = s.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = list(s.execute(query.limit(window.per_page).offset(window.offset)).all())
    return total, rows


def slice_list(items: list[Any], window: Window) -> list[Any]:
    return items[window.offset : window.offset + window.per_page]


def _url(request: Request, page: int, per_page: int) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("page", "per_page")]
    params += [("page", str(page)), ("per_page", str(per_page))]
    return f"{request.url.path}?{urlencode(params)}"


@dataclass(frozen=True)
class Links:
    next: str | None
    prev: str | None
    header: str


def links(request: Request, window: Window, total: int) -> Links:
    """Relative URLs of the neighbouring pages and the Link header naming first, prev, next and last."""
    last = max(1, -(-total // window.per_page))
    nxt = _url(request, window.page + 1, window.per_page) if window.page < last else None
    prev = _url(request, min(window.page - 1, last), window.per_page) if window.page > 1 else None
    parts = [f'<{_url(request, 1, window.per_page)}>; rel="first"']
    if prev:
        parts.append(f'<{prev}>; rel="prev"')
    if nxt:
        parts.append(f'<{nxt}>; rel="next"')
    parts.append(f'<{_url(request, last, window.per_page)}>; rel="last"')
    return Links(nxt, prev, ", ".join(parts))
