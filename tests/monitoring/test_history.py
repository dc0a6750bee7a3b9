"""Compliance over time: the worker's daily snapshots (idempotent), each institution's scorecard with its
trend chart and the same figures as a table, Wilson intervals on every delivery rate, and the history's
CSV and JSON downloads (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from datetime import date, datetime, timedelta

import pytest
from scipy.stats import binomtest
from sqlalchemy import func, select

from idmx import clock, worker
from idmx.db import models as m
from idmx.monitoring import compliance
from idmx.monitoring import services as monitoring
from idmx.plans import policy
from idmx.plans import services as items
from tests.plans.days import official_days

START = datetime(2027, 4, 5, 12, tzinfo=clock.MEXICO_CITY)  # a Monday


def _institution(db, acronym: str) -> int:
    with db.read() as s:
        return s.scalar(select(m.Institution.id).where(m.Institution.acronym == acronym))


@pytest.fixture
def plan(db):
    """SEMARNAT: one item committed for a week ahead, one published, one pending; INEGI: one pending."""
    today = clock.local_date(START)
    due = policy.add_business_days(today, 5, official_days())
    with db.write() as s:
        semarnat, inegi = _institution(db, "SEMARNAT"), _institution(db, "INEGI")
        made = [items.create_item(s, institution_id=semarnat, source=m.PlanSource.own, title=f"Conjunto {k}",
                                  today=today) for k in range(3)]
        items.create_item(s, institution_id=inegi, source=m.PlanSource.own, title="Censo por localidad", today=today)
        items.apply_move(s, made[0], lambda a: policy.commit(a, due, today, off_days=official_days()), actor_id=None)
        items.apply_move(s, made[1], lambda a: policy.publish(a, "https://datos.gob.mx/a.csv", today), actor_id=None)
    return {"due": due}


def test_one_snapshot_per_institution_and_day_however_often_the_job_runs(db, settings, plan):
    with clock.frozen(START) as frozen:
        assert worker.take_snapshot(db, settings) == 2
        assert worker.take_snapshot(db, settings) == 0
        frozen.advance(timedelta(hours=11))  # 23:00 in Mexico City: still the same day
        assert monitoring.take_snapshot(db) == 0
        frozen.advance(timedelta(hours=2))
        results: list[int] = []
        threads = [threading.Thread(target=lambda: results.append(monitoring.take_snapshot(db))) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [0, 0, 2]
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(m.ComplianceSnapshot)) == 4


def test_the_history_follows_the_items_across_their_deadline(db, plan):
    days = []
    with clock.frozen(START) as frozen:
        for _ in range(10):
            monitoring.take_snapshot(db)
            days.append(clock.today())
            frozen.advance(timedelta(days=1))
    semarnat = monitoring.history(db, _institution(db, "SEMARNAT"))
    assert [p.day for p in semarnat] == days
    first, last = semarnat[0].counts, semarnat[-1].counts
    assert (first.committed, first.published_on_time, first.pending, first.due, first.delivery_rate) == (1, 1, 1, 1, 1.0)
    assert (last.overdue, last.committed, last.due) == (1, 0, 2) and last.delivery_rate == pytest.approx(0.5)
    changed = next(p for p in semarnat if p.counts.overdue)
    assert changed.day == plan["due"] + timedelta(days=1)
    national = monitoring.history(db)
    assert national[0].counts.total == 4 and national[0].counts.pending == 2


@pytest.mark.parametrize("on_time,due", [(0, 1), (1, 1), (3, 7), (95, 100), (0, 250)])
def test_the_interval_is_wilsons(on_time, due):
    low, high = compliance.delivery_interval(on_time, due)
    expected = binomtest(on_time, due).proportion_ci(confidence_level=0.95, method="wilson")
    assert (low, high) == pytest.approx((expected.low, expected.high), abs=1e-9)
    assert compliance.delivery_interval(0, 0) is None


def test_few_items_due_give_a_wide_interval():
    one = compliance.counts_of([policy.PublicStatus.published_on_time])
    hundred = compliance.counts_of([policy.PublicStatus.published_on_time] * 95 + [policy.PublicStatus.overdue] * 5)
    assert one.delivery_rate == 1.0 and one.delivery_rate_low < 0.25
    assert hundred.delivery_rate_low > 0.88 and one.delivery_rate_low < hundred.delivery_rate_low


def test_the_scorecard_page_has_a_chart_and_the_same_figures_in_a_table(client, db, plan):
    with clock.frozen(START) as frozen:
        for _ in range(8):
            monitoring.take_snapshot(db)
            frozen.advance(timedelta(days=1))
        page = client.get("/monitoring/SEMARNAT")
    assert page.status_code == 200
    html = page.text
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert 'role="img"' in svg and "<title" in svg and "<polyline" in svg and "<polygon" in svg
    assert "style=" not in svg and "<script" not in html.split("</head>")[1]
    rows = re.findall(r'<tr data-day="(\d{4}-\d{2}-\d{2})">', html)
    assert len(rows) == 8 and rows[0] == "2027-04-05"
    assert html.count("<circle") == 8  # a point per day with something due
    assert 'id="delivery-rate"' in html
    assert client.get("/monitoring/NOEXISTE").status_code == 404


def test_history_downloads(client, db, plan):
    with clock.frozen(START) as frozen:
        for _ in range(3):
            monitoring.take_snapshot(db)
            frozen.advance(timedelta(days=1))
    r = client.get("/monitoring/SEMARNAT/history.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="idmx-compliance-history-SEMARNAT.csv"' in r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [row["day"] for row in table] == ["2027-04-05", "2027-04-06", "2027-04-07"]
    assert table[0]["delivery_rate"] == "1.0000" and float(table[0]["delivery_rate_low"]) < 0.25
    assert list(table[0]) == compliance.HISTORY_COLUMNS
    doc = json.loads(client.get("/monitoring/SEMARNAT/history.json").content)
    assert doc["scope"] == "SEMARNAT" and doc["confidence"] == 0.95 and len(doc["days"]) == 3
    assert doc["days"][0]["published_on_time"] == 1 and doc["days"][0]["delivery_rate_high"] == 1.0
    national = json.loads(client.get("/monitoring/history.json").content)
    assert national["scope"] == "national" and national["days"][0]["total"] == 4
    assert client.get("/monitoring/history.csv").status_code == 200


def test_the_current_figures_carry_the_interval_in_every_download(client, db, plan):
    with clock.frozen(START):
        table = list(csv.DictReader(io.StringIO(client.get("/monitoring.csv").content.decode("utf-8-sig"))))
        doc = json.loads(client.get("/monitoring.json").content)
    semarnat = next(row for row in table if row["acronym"] == "SEMARNAT")
    assert semarnat["delivery_rate"] == "1.0000" and 0 < float(semarnat["delivery_rate_low"]) < 0.25
    inegi = next(row for row in table if row["acronym"] == "INEGI")
    assert inegi["delivery_rate_low"] == "" and inegi["delivery_rate_high"] == ""
    assert doc["national"]["delivery_rate_low"] == pytest.approx(float(semarnat["delivery_rate_low"]), abs=1e-4)


def test_the_chart_geometry_is_plain_data():
    points = [compliance.HistoryPoint(date(2027, 4, d), compliance.counts_of(
        [policy.PublicStatus.published_on_time] * d + [policy.PublicStatus.overdue] * 2)) for d in (1, 2, 3)]
    points.insert(1, compliance.HistoryPoint(date(2027, 3, 31), compliance.counts_of([policy.PublicStatus.pending])))
    chart = compliance.trend_chart(points)
    assert len(chart.line.split()) == 3 and len(chart.band.split()) == 6  # nothing due on one day: no point
    assert [p.y is None for p in chart.points] == [False, True, False, False]
    ys = [float(pair.split(",")[1]) for pair in chart.line.split()]
    assert ys == sorted(ys, reverse=True)  # the rate rises, so the line climbs (SVG y grows downwards)
    assert all(chart.top <= y <= chart.top + chart.plot_height for y in ys)
