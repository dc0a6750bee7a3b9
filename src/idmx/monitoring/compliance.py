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

Every delivery rate comes with its 95 % Wilson score interval (`delivery_interval`: the published on
time out of the due), so an institution with 1 of 1 delivered does not look surer than one with 95 of
100. History: the worker stores each institution's counts once a day (`ComplianceSnapshot`);
`history_points` turns them into dated figures, `trend_chart` into an SVG's geometry.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import date
from typing import Any

from idmx import statistics
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

    # Properties, not fields: the figures' fields are what the API and the exports carry one-to-one.
    @property
    def delivery_interval(self) -> tuple[float, float] | None:
        return delivery_interval(self.published_on_time, self.due)

    @property
    def delivery_rate_low(self) -> float | None:
        interval = self.delivery_interval
        return interval[0] if interval else None

    @property
    def delivery_rate_high(self) -> float | None:
        interval = self.delivery_interval
        return interval[1] if interval else None


CONFIDENCE = 0.95


def delivery_interval(on_time: int, due: int, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The Wilson score interval of on_time / due; None when nothing is due."""
    if due <= 0:
        return None
    low, high = statistics.wilson_interval(on_time / due, due, confidence)
    return float(low), float(high)


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


INTERVAL_COLUMNS = ["delivery_rate_low", "delivery_rate_high"]
RATE_COLUMNS = {"delivery_rate", *INTERVAL_COLUMNS}


def download_columns() -> list[str]:
    """The downloads' columns: every figure and the delivery rate's 95 % interval."""
    return [*field_names(), *INTERVAL_COLUMNS]


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
    names = download_columns()
    if fmt == "csv":
        rows = ([_rate(getattr(r, n)) if n in RATE_COLUMNS else getattr(r, n) for n in names]
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
            "national": {**asdict(figures.national), **{n: getattr(figures.national, n) for n in INTERVAL_COLUMNS}},
        }
        return iter([json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")])
    raise NotFound(_("Unknown export format."))


# --- history: the daily snapshots ------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryPoint:
    day: date
    counts: StatusCounts


def history_points(rows: Iterable[tuple[date, Mapping[str, int]]]) -> list[HistoryPoint]:
    """Dated figures from (day, counts per status) rows; rows of the same day (institutions) are summed."""
    by_day: dict[date, Counter[PublicStatus]] = {}
    for day, counts in rows:
        total = by_day.setdefault(day, Counter())
        for s in STATUSES:
            total[s] += int(counts.get(s.value, 0))
    return [HistoryPoint(day, StatusCounts(**_derived(by_day[day]))) for day in sorted(by_day)]


HISTORY_COLUMNS = ["day", *[s.value for s in STATUSES], "total", "due", "delivery_rate", *INTERVAL_COLUMNS]


def render_history(points: list[HistoryPoint], fmt: str, scope: str) -> Iterator[bytes]:
    """A history as CSV or JSON (`scope`: the institution's acronym, or "national")."""
    def value(point: HistoryPoint, name: str) -> Any:
        return point.day.isoformat() if name == "day" else getattr(point.counts, name)

    if fmt == "csv":
        rows = ([_rate(value(p, n)) if n in RATE_COLUMNS else value(p, n) for n in HISTORY_COLUMNS] for p in points)
        return (line.encode("utf-8") for line in csv_lines(HISTORY_COLUMNS, rows))
    if fmt == "json":
        document = {"scope": scope, "confidence": CONFIDENCE, "columns": HISTORY_COLUMNS,
                    "days": [{n: value(p, n) for n in HISTORY_COLUMNS} for p in points]}
        return iter([json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")])
    raise NotFound(_("Unknown export format."))


@dataclass(frozen=True)
class ChartPoint:
    day: date
    x: float
    y: float | None  # None: nothing due that day
    rate: float | None


@dataclass(frozen=True)
class Chart:
    """An SVG line chart's geometry in its own coordinates (`width` x `height`), ready for a template."""

    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    line: str  # polyline points of the delivery rate
    band: str  # polygon points of the 95 % interval
    points: list[ChartPoint]
    y_ticks: list[tuple[float, str]]  # (y, label)
    x_ticks: list[tuple[float, date]]


def trend_chart(points: list[HistoryPoint], *, width: int = 640, height: int = 240) -> Chart:
    """The delivery rate over the days and its interval band. Days with nothing due leave a gap in neither."""
    left, top, right, bottom = 48, 12, 12, 32
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(points)

    def x_of(i: int) -> float:
        return round(left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2), 1)

    def y_of(rate: float) -> float:
        return round(top + plot_h * (1 - rate), 1)

    chart_points, line, upper, lower = [], [], [], []
    for i, point in enumerate(points):
        rate = point.counts.delivery_rate
        chart_points.append(ChartPoint(point.day, x_of(i), y_of(rate) if rate is not None else None, rate))
        if rate is not None:
            line.append(f"{x_of(i)},{y_of(rate)}")
            low, high = point.counts.delivery_interval or (rate, rate)
            upper.append(f"{x_of(i)},{y_of(high)}")
            lower.append(f"{x_of(i)},{y_of(low)}")
    band = " ".join(upper + lower[::-1])
    y_ticks = [(y_of(v), f"{int(v * 100)} %") for v in (0, 0.25, 0.5, 0.75, 1)]
    step = max(1, (n + 5) // 6)
    x_ticks = [(x_of(i), points[i].day) for i in range(0, n, step)]
    return Chart(width, height, left, top, plot_w, plot_h, " ".join(line), band, chart_points, y_ticks, x_ticks)
