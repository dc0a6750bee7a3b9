"""Shaping a stored ranking run for people (pure): table rows, the interval chart, segment columns.

Nothing here touches the database or HTTP; the controller passes in the run's rows and titles.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pandas as pd

from idmx.statistics import rank

CRITERIA = ("lower", "point")


@dataclass(frozen=True)
class Row:
    rank: int
    proposal_id: int
    title: str
    score: float
    ci_low: float
    ci_high: float
    n_eff: float
    n_votes: int
    segment_rank: int | None = None
    rank_low: int | None = None  # the interval of the rank (`rank_intervals`): "3 (2–5)"
    rank_high: int | None = None


def ranked_rows(results: list[dict[str, Any]], titles: dict[int, str], criterion: str,
                intervals: dict[Any, tuple[int, int]]) -> list[Row]:
    """The run's results ordered by the chosen criterion (lower end of the interval, or point), each
    with the interval of its rank (``intervals``: `services.rank_intervals_of`, at the run's confidence)."""
    if not results:
        return []
    frame = pd.DataFrame(results)
    ordered = rank(frame.drop(columns=["rank"], errors="ignore"), by="lower" if criterion not in CRITERIA else criterion)
    return [
        Row(int(r.rank), int(r.proposal_id), titles.get(int(r.proposal_id), f"#{int(r.proposal_id)}"), float(r.score),
            float(r.ci_low), float(r.ci_high), float(r.n_eff), int(r.n_votes),
            rank_low=intervals[r.proposal_id][0], rank_high=intervals[r.proposal_id][1])
        for r in ordered.itertuples()
    ]


def segment_codes(segment_ranks: list[dict[str, Any]] | None) -> list[str]:
    if not segment_ranks:
        return []
    return sorted(k[len("rank_"):] for k in segment_ranks[0] if k.startswith("rank_") and k != "rank_overall")


def by_segment(rows: list[Row], segment_ranks: list[dict[str, Any]] | None, segment: str,
               figures: dict[str, Any] | None = None) -> list[Row]:
    """The proposals one segment voted on, in that segment's order, with that segment's own score,
    interval, effective n and votes (``figures``: `pipeline.segment_figures`); `rank` stays the overall
    rank. Runs stored before segments had their own figures show the overall ones, in the segment's order."""
    if not segment_ranks or segment not in segment_codes(segment_ranks):
        return rows
    by_id = {int(r["proposal_id"]): r for r in segment_ranks}
    own = (figures or {}).get("segments", {}).get(segment)
    at = {int(pid): i for i, pid in enumerate(figures["proposal_id"])} if own else {}
    out = []
    for row in rows:
        rank = _whole(by_id.get(row.proposal_id, {}).get(f"rank_{segment}"))
        if rank is None:
            continue
        i = at.get(row.proposal_id)

        def figure(name: str, default: float, i: int | None = i) -> float:
            value = None if i is None else own[name][i]
            return default if value is None else float(value)

        out.append(Row(row.rank, row.proposal_id, row.title, figure("score", row.score), figure("ci_low", row.ci_low),
                       figure("ci_high", row.ci_high), figure("n_eff", row.n_eff),
                       int(figure("n_votes", row.n_votes)), segment_rank=rank, rank_low=row.rank_low,
                       rank_high=row.rank_high))
    return sorted(out, key=lambda r: (r.segment_rank, r.rank))


def _whole(value: Any) -> int | None:
    """A stored rank as an int; None for a missing one (None, NaN, "")."""
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return None
    return int(value)


def comparison(rows: list[Row], segment_ranks: list[dict[str, Any]] | None, limit: int = 15) -> dict[str, Any]:
    """Overall rank next to each segment's rank for the top proposals."""
    codes = segment_codes(segment_ranks)
    by_id = {int(r["proposal_id"]): r for r in (segment_ranks or [])}
    table = []
    for row in rows[:limit]:
        ranks = by_id.get(row.proposal_id, {})
        table.append({
            "rank": row.rank, "title": row.title,
            "segments": [_whole(ranks.get(f"rank_{c}")) for c in codes],
        })
    return {"codes": codes, "rows": table}


@dataclass(frozen=True)
class ChartBar:
    y: float
    x_low: float
    x_high: float
    x_point: float
    label: str
    rank: int


def interval_chart(rows: list[Row], scale: tuple[float, float], limit: int = 25, width: int = 640,
                   label_width: int = 24, row_height: int = 22) -> dict[str, Any]:
    """Geometry of a dot-and-whisker chart: one row per proposal, the interval as a line."""
    lo, hi = scale
    shown = rows[:limit]
    plot = width - label_width - 20

    def x(value: float) -> float:
        return round(label_width + 10 + (min(max(value, lo), hi) - lo) / (hi - lo) * plot, 1)

    bars = [
        ChartBar(y=30 + i * row_height, x_low=x(r.ci_low), x_high=x(r.ci_high), x_point=x(r.score),
                 label=f"{r.rank}. {r.title}", rank=r.rank)
        for i, r in enumerate(shown)
    ]
    ticks = [lo + (hi - lo) * k / 4 for k in range(5)]
    return {
        "width": width,
        "height": 40 + len(bars) * row_height,
        "bars": bars,
        "ticks": [(x(t), t) for t in ticks],
        "axis_y": 20,
    }


def segment_mix(summary: dict[str, Any], params: dict[str, Any], names: dict[str, str]) -> list[dict[str, Any]]:
    """Each segment's respondents, share of the sample and target share, for the run's weighting note."""
    totals: dict[str, int] = defaultdict(int)
    for cell in summary.get("cell_weights", []):
        totals[str(cell.get("segment", "not_stated"))] += int(cell["respondents"])
    n = sum(totals.values()) or 1
    targets = {c: float(t) for v, c, t in params.get("targets", []) if v == "segment"}
    target_total = sum(targets.values()) or 1.0
    return [
        {"code": code, "name": names.get(code, code), "n": totals[code], "share": totals[code] / n,
         "target": targets[code] / target_total if code in targets else None}
        for code in sorted(totals, key=lambda k: (k == "not_stated", names.get(k, k)))
    ]
