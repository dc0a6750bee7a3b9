"""Compliance figures: hand-computed counts and delivery rates on a fixed day, then the public page and CSV.

The day is Wednesday 11 March 2026. "Due today" is not overdue; "due yesterday" is. An answer
deadline of today is still pending; one of yesterday is unanswered.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from idmx import clock
from idmx.db import models as m
from idmx.monitoring import compliance
from idmx.monitoring import services as monitoring
from idmx.monitoring.compliance import ItemRow
from idmx.plans import policy
from idmx.plans.policy import Answer, PublicStatus

TODAY = date(2026, 3, 11)
YESTERDAY = TODAY - timedelta(days=1)
EARLIER = date(2026, 2, 2)
LATER = date(2026, 4, 15)
S = m.PlanStatus


def pending(answer_by: date = TODAY) -> Answer:
    return Answer(status=S.pending, answer_by=answer_by)


def committed(due: date) -> Answer:
    return Answer(status=S.committed, answer_by=EARLIER, due_date=due)


def published(on: date, due: date | None, policy_due: date | None = None) -> Answer:
    return Answer(status=S.published, answer_by=EARLIER, due_date=due, policy_due=policy_due, published_on=on,
                  published_url="https://datos.gob.mx/x")


def denied() -> Answer:
    return Answer(status=S.denied, answer_by=EARLIER, legal_basis_id=1, denial_explanation="Reservada")


INSTITUTIONS = {1: ("ALFA", "Alfa"), 2: ("BETA", "Beta"), 3: ("CERO", "Ćero"), 4: ("ARB", "Árbol")}
ANSWERS = {
    1: [
        pending(TODAY),  # pending: the answer deadline is today
        pending(YESTERDAY),  # unanswered: the deadline was yesterday
        committed(TODAY),  # committed: due today is not overdue
        committed(YESTERDAY),  # overdue: due yesterday
        published(on=YESTERDAY, due=YESTERDAY),  # on time: published on the due date
        published(on=EARLIER, due=None, policy_due=YESTERDAY),  # on time against the policy's date
        published(on=TODAY, due=YESTERDAY),  # late by a day
        denied(),
    ],
    2: [published(on=EARLIER, due=LATER), committed(LATER)],
    3: [pending(LATER)],
    4: [published(on=TODAY, due=TODAY), denied(), pending(EARLIER)],
}


def rows() -> list[ItemRow]:
    return [
        ItemRow(institution_id=i, acronym=INSTITUTIONS[i][0], name_es=INSTITUTIONS[i][1], name_en=INSTITUTIONS[i][1],
                answer=a)
        for i, answers in ANSWERS.items() for a in answers
    ]


def test_the_public_status_of_each_boundary_case():
    assert policy.public_status(committed(TODAY), TODAY) == PublicStatus.committed
    assert policy.public_status(committed(YESTERDAY), TODAY) == PublicStatus.overdue
    assert policy.public_status(pending(TODAY), TODAY) == PublicStatus.pending
    assert policy.public_status(pending(YESTERDAY), TODAY) == PublicStatus.unanswered


def test_counts_per_institution_and_status_on_a_fixed_day():
    result = {r.acronym: r for r in compliance.summarise(rows(), TODAY)}
    alfa = result["ALFA"]
    assert (alfa.pending, alfa.unanswered, alfa.committed, alfa.overdue, alfa.published_on_time,
            alfa.published_late, alfa.denied) == (1, 1, 1, 1, 2, 1, 1)
    assert alfa.total == 8
    assert alfa.due == 6  # all but the pending one and the one committed for today
    assert alfa.delivery_rate == pytest.approx(2 / 6)
    beta = result["BETA"]
    assert (beta.published_on_time, beta.committed, beta.total, beta.due, beta.delivery_rate) == (1, 1, 2, 1, 1.0)
    cero = result["CERO"]
    assert (cero.pending, cero.total, cero.due, cero.delivery_rate) == (1, 1, 0, None)
    arbol = result["ARB"]
    assert (arbol.published_on_time, arbol.denied, arbol.unanswered, arbol.due) == (1, 1, 1, 3)
    assert arbol.delivery_rate == pytest.approx(1 / 3)
    for r in result.values():
        assert r.total == sum(r.count(s) for s in PublicStatus)


def test_order_is_delivery_rate_then_name_ignoring_accents_with_nothing_due_last():
    order = [r.acronym for r in compliance.summarise(rows(), TODAY)]
    # Beta 100 %; Alfa and Árbol tie at one third, "Alfa" < "Árbol"; Ćero has nothing due.
    assert order == ["BETA", "ALFA", "ARB", "CERO"]


def test_the_day_moves_items_across_the_boundaries():
    """One day later, the item due today is overdue and the pending one (answer by today) unanswered."""
    alfa = {r.acronym: r for r in compliance.summarise(rows(), TODAY + timedelta(days=1))}["ALFA"]
    assert (alfa.pending, alfa.unanswered, alfa.committed, alfa.overdue) == (0, 2, 0, 2)
    assert alfa.due == 8 and alfa.delivery_rate == pytest.approx(2 / 8)


def test_national_totals_pool_every_institution():
    total = compliance.national(compliance.summarise(rows(), TODAY))
    assert (total.pending, total.unanswered, total.committed, total.overdue, total.published_on_time,
            total.published_late, total.denied) == (2, 2, 2, 1, 4, 1, 2)
    assert total.total == 14 and total.due == 10 and total.delivery_rate == pytest.approx(0.4)
    assert compliance.national([]).delivery_rate is None
    statuses = [policy.public_status(r.answer, TODAY) for r in rows()]
    assert compliance.counts_of(statuses) == total


def test_results_are_plain_dataclasses_with_every_figure_as_a_field():
    first = compliance.summarise(rows(), TODAY)[0]
    as_dict = dataclasses.asdict(first)
    assert list(as_dict) == [f for f in as_dict]  # plain data
    assert set(compliance.field_names()) == set(as_dict)
    assert as_dict["delivery_rate"] == 1.0 and as_dict["due"] == 1 and as_dict["total"] == 2


def test_empty_input_gives_an_empty_list():
    assert compliance.summarise([], TODAY) == []


# --- from the database, and the public page --------------------------------------------------------


def _institution(s, acronym: str) -> int:
    return s.scalar(select(m.Institution.id).where(m.Institution.acronym == acronym))


@pytest.fixture
def plan_items(db):
    """SEMARNAT: one published on time, one overdue, one denied. INEGI: one pending. Relative to the real today."""
    from idmx.plans import services as items

    today = clock.today()
    with db.write() as s:
        semarnat, inegi = _institution(s, "SEMARNAT"), _institution(s, "INEGI")
        basis = s.scalar(select(m.LegalBasis.id).limit(1))
        made = {}
        for key, inst in (("on_time", semarnat), ("overdue", semarnat), ("denied", semarnat), ("pending", inegi)):
            made[key] = items.create_item(s, institution_id=inst, source=m.PlanSource.own, title=f"Conjunto =1+{key}",
                                     today=today - timedelta(days=60))
        made["on_time"].status, made["on_time"].published_on = S.published, today - timedelta(days=3)
        made["on_time"].due_date, made["on_time"].published_url = today, "https://datos.gob.mx/a"
        made["overdue"].status, made["overdue"].due_date = S.committed, today - timedelta(days=1)
        made["denied"].status, made["denied"].legal_basis_id = S.denied, basis
        made["denied"].denial_explanation = "No existe"
        made["pending"].answer_by = today
    return made


def test_load_rows_reads_every_item_with_its_institution(db, plan_items):
    with db.read() as s:
        loaded = monitoring.load_rows(s)
    assert len(loaded) == 4
    result = {r.acronym: r for r in compliance.summarise(loaded, clock.today())}
    semarnat = result["SEMARNAT"]
    assert (semarnat.published_on_time, semarnat.overdue, semarnat.denied, semarnat.total) == (1, 1, 1, 3)
    assert semarnat.delivery_rate == pytest.approx(1 / 3)
    assert (result["INEGI"].pending, result["INEGI"].delivery_rate) == (1, None)
    with db.read() as s:
        assert len(monitoring.load_rows(s, institution_id=semarnat.institution_id)) == 3
    assert monitoring.institutions(db, institution_id=semarnat.institution_id) == [semarnat]


def test_monitoring_page_shows_each_institution_and_the_national_totals(client, plan_items):
    r = client.get("/monitoring")
    assert r.status_code == 200
    assert 'href="/institutions/SEMARNAT/plan"' in r.text and 'href="/institutions/INEGI/plan"' in r.text
    assert r.text.index('data-institution="SEMARNAT"') < r.text.index('data-institution="INEGI"')
    assert 'data-national-total="4"' in r.text
    assert re.search(r'data-count="overdue"[^>]*>1<', r.text)
    # SEMARNAT's one on-time publication of three due: 33 %, with its Wilson interval beside it.
    assert 'href="/monitoring/SEMARNAT"' in r.text and re.search(r'data-interval="0\.\d{4}-0\.\d{4}"', r.text)
    english = client.get("/monitoring?lang=en")
    assert english.status_code == 200 and "Delivery rate" in english.text


def test_monitoring_page_without_any_item(client, db):
    r = client.get("/monitoring")
    assert r.status_code == 200 and 'data-national-total="0"' in r.text


def test_monitoring_csv_is_utf8_with_a_bom_and_neutralised_text(client, db, plan_items):
    with db.write() as s:  # a name a spreadsheet would run as a formula (reference data: restored below)
        inst = s.get(m.Institution, _institution(s, "INEGI"))
        original, inst.name_es = inst.name_es, "=HYPERLINK(\"http://x\")"
    try:
        r = client.get("/monitoring.csv")
    finally:
        with db.write() as s:
            s.get(m.Institution, _institution(s, "INEGI")).name_es = original
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.content.startswith("\ufeff".encode())
    table = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    by_acronym = {row["acronym"]: row for row in table}
    assert by_acronym["SEMARNAT"]["overdue"] == "1" and by_acronym["SEMARNAT"]["total"] == "3"
    assert float(by_acronym["SEMARNAT"]["delivery_rate"]) == pytest.approx(1 / 3, abs=1e-4)
    assert by_acronym["INEGI"]["delivery_rate"] == ""
    assert by_acronym["INEGI"]["name_es"].startswith("'=")
