"""Who delivered: each institution's plan items counted by public status, and its delivery rate.

`summarise(rows, today)` is a pure function over plain rows (one per plan item: the institution and
the item's stored answer); `idmx.monitoring.services.load_rows` is the query that feeds it. The
monitoring page, its downloads, the exports and the API all use the same two, so the figures agree.

Definitions (every item is classified by `policy.public_status(answer, today)`, never by hand):

- the seven counts are the items in each public status: pending (still within the time to answer),
  unanswered, committed (due date not yet passed), overdue, published on time, published late, denied;
- `total` is the sum of the seven;
- `due` is the number of items whose outcome is due: every item except those pending (the
  institution still has time to answer) and those committed with a due date not yet passed. That
  is unanswered + overdue + published on time + published late + denied;
- `delivery_rate` is published on time / due, a number from 0 to 1, or None when nothing is due yet.
  A late publication, a denial, an overdue commitment and a missing answer all count against it.

Institutions are ordered by delivery rate, highest first (those with nothing due last), then by
Spanish name (accents and case ignored), then by acronym.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import date
from typing import Any

from idmx.errors import NotFound
from idmx.formats import xlsx
from idmx.formats.safety import csv_lines
from idmx.i18n import gettext as _
from idmx.plans import policy
from idmx.plans.policy import PublicStatus

STATUSES: tuple[PublicStatus, ...] = tuple(PublicStatus)
# Statuses whose outcome is not due yet: they count in the total, not in the delivery rate.
NOT_DUE: frozenset[PublicStatus] = frozenset({PublicStatus.pending, PublicStatus.committed})


@dataclass(frozen=True)
class ItemRow:
    """One plan item as the summary needs it: its institution and its stored answer."""

    institution_id: int
    acronym: str
    name_es: str
    name_en: str
    answer: policy.Answer


@dataclass(frozen=True, kw_only=True)
class StatusCounts:
    """Items per public status (one field per `PublicStatus` value) and what follows from them.

    `total`, `due` and `delivery_rate` are stored fields (not properties), so `dataclasses.asdict`
    and any serializer see them; build instances with `counts_of`, which computes them.
    """

    pending: int = 0
    unanswered: int = 0
    committed: int = 0
    overdue: int = 0
    published_on_time: int = 0
    published_late: int = 0
    denied: int = 0
    total: int = 0
    due: int = 0  # items whose outcome is due: all but pending and committed-not-yet-due
    delivery_rate: float | None = None  # published_on_time / due; None when nothing is due

    def count(self, status: PublicStatus | str) -> int:
        return getattr(self, PublicStatus(status).value)


@dataclass(frozen=True, kw_only=True)
class InstitutionCompliance(StatusCounts):
    institution_id: int
    acronym: str
    name_es: str
    name_en: str


def _derived(counts: Mapping[PublicStatus, int]) -> dict[str, Any]:
    values: dict[str, Any] = {s.value: counts.get(s, 0) for s in STATUSES}
    due = sum(n for s, n in counts.items() if s not in NOT_DUE)
    values.update(total=sum(counts.values()), due=due,
                  delivery_rate=counts.get(PublicStatus.published_on_time, 0) / due if due else None)
    return values


def counts_of(statuses: Iterable[PublicStatus]) -> StatusCounts:
    """The counts of a list of public statuses, with total, due and delivery rate."""
    return StatusCounts(**_derived(Counter(statuses)))


def _name_key(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _order(row: InstitutionCompliance) -> tuple:
    rate = row.delivery_rate
    return (rate is None, -(rate or 0.0), _name_key(row.name_es), row.acronym)


def summarise(rows: Iterable[ItemRow], today: date) -> list[InstitutionCompliance]:
    """Per-institution counts of each public status on `today`, ordered by delivery rate then name."""
    names: dict[int, ItemRow] = {}
    counts: dict[int, Counter[PublicStatus]] = {}
    for row in rows:
        names.setdefault(row.institution_id, row)
        counts.setdefault(row.institution_id, Counter())[policy.public_status(row.answer, today)] += 1
    result = [
        InstitutionCompliance(institution_id=i, acronym=names[i].acronym, name_es=names[i].name_es,
                              name_en=names[i].name_en, **_derived(c))
        for i, c in counts.items()
    ]
    return sorted(result, key=_order)


def national(results: Iterable[StatusCounts]) -> StatusCounts:
    """The sum of every institution's counts; its delivery rate is the pooled one (on time / due, nationally)."""
    total: Counter[PublicStatus] = Counter()
    for entry in results:
        for s in STATUSES:
            total[s] += entry.count(s)
    return StatusCounts(**_derived(total))


def field_names() -> list[str]:
    """The CSV/JSON column names of an `InstitutionCompliance` row, in a stable order."""
    return ["institution_id", "acronym", "name_es", "name_en", *[f.name for f in fields(StatusCounts)]]


# --- downloads: the columns are `field_names()` (an allow-list); CSV writes the rate with four decimals,
# XLSX as a number, JSON as a number or null, with the national totals and the day the statuses are for.

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": xlsx.XLSX_MEDIA_TYPE,
    "json": "application/json",
}


@dataclass(frozen=True)
class Figures:
    on: date
    institutions: list[InstitutionCompliance]
    national: StatusCounts


def _rate(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def render(figures: Figures, fmt: str) -> Iterator[bytes]:
    """The figures in one of `FORMATS`, as chunks of bytes."""
    names = field_names()
    if fmt == "csv":
        rows = ([_rate(r.delivery_rate) if n == "delivery_rate" else getattr(r, n) for n in names]
                for r in figures.institutions)
        return (line.encode("utf-8") for line in csv_lines(names, rows))
    if fmt == "xlsx":
        rows = ([getattr(r, n) for n in names] for r in figures.institutions)
        return xlsx.xlsx_chunks([xlsx.Sheet(f"idmx-monitoring-{figures.on.isoformat()}"[:31], names, rows)])
    if fmt == "json":
        document: dict[str, Any] = {
            "statuses_on": figures.on.isoformat(),
            "columns": names,
            "institutions": [{n: getattr(r, n) for n in names} for r in figures.institutions],
            "national": asdict(figures.national),
        }
        return iter([json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")])
    raise NotFound(_("Unknown export format."))
