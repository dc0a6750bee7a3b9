"""The official calendar: non-working days in the database (national and per institution), the staff page
that edits them, and deadlines that never fall on them (SQLite and PostgreSQL; pure cases without a database)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import delete, func, select

from idmx import clock
from idmx.calendar import services as calendar
from idmx.db import models as m
from idmx.plans import policy
from tests.consultations.test_participation import post_form
from tests.plans.days import official_days
from tests.plans.test_answers import as_, institution_id, item, new_item, staff  # noqa: F401  (fixture)

# A Monday in Mexico City, a week before Holy week 2027 (Thursday 25 and Friday 26 March are official days).
MONDAY = datetime(2027, 3, 15, 18, tzinfo=clock.MEXICO_CITY)


@pytest.fixture
def restore_calendar(db):
    """Tests here edit the calendar: put the seeded one back afterwards."""
    yield
    with db.write() as s:
        s.execute(delete(m.NonWorkingDay))
    calendar.seed(db)


# --- pure: the arithmetic with the days given as data ---------------------------------------------------


def test_official_days_are_skipped_only_when_given():
    holy_week = {date(2027, 3, 25), date(2027, 3, 26)}
    assert policy.add_business_days(date(2027, 3, 24), 1) == date(2027, 3, 25)  # statutory only: Thursday works
    assert policy.add_business_days(date(2027, 3, 24), 1, holy_week) == date(2027, 3, 29)
    assert not policy.is_business_day(date(2027, 3, 25), holy_week)
    assert policy.business_days_between(date(2027, 3, 22), date(2027, 3, 29), holy_week) == 3


def test_year_boundary_with_the_seeded_calendar_and_an_institution_day():
    days = official_days()
    assert policy.add_business_days(date(2026, 12, 30), 2, days) == date(2027, 1, 4)  # Thu 31, (Fri 1 off), Mon 4
    assert policy.add_business_days(date(2026, 12, 30), 2, days | {date(2027, 1, 4)}) == date(2027, 1, 5)
    assert policy.next_business_day(date(2026, 12, 25), days) == date(2026, 12, 28)  # Christmas on a Friday
    assert policy.next_business_day(date(2027, 12, 11), days) == date(2027, 12, 13)  # Sat 11, Sun 12 Guadalupe


def test_a_year_nobody_declared_still_skips_the_statutory_days():
    assert not any(d.year == 2028 for d in official_days())
    assert not policy.is_business_day(date(2028, 2, 7), official_days())  # first Monday of February 2028
    assert policy.add_business_days(date(2028, 2, 4), 1, official_days()) == date(2028, 2, 8)


@pytest.mark.parametrize("due,why", [
    (date(2027, 3, 20), "a Saturday"), (date(2027, 3, 21), "a Sunday"),
    (date(2027, 3, 25), "Holy Thursday (official)"), (date(2027, 5, 3), None),
])
def test_a_commitment_on_a_non_working_day_is_refused(due, why):
    pending = policy.Answer(answer_by=date(2027, 4, 1))
    if why is None:
        assert policy.commit(pending, due, date(2027, 3, 15), off_days=official_days())[0].due_date == due
        return
    with pytest.raises(policy.TransitionError) as refused:
        policy.commit(pending, due, date(2027, 3, 15), off_days=official_days())
    assert refused.value.field == "due_date" and "non-working day" in str(refused.value), why


# --- the database --------------------------------------------------------------------------------------


def test_the_seed_covers_2026_and_2027_and_never_overwrites_an_edited_year(db, restore_calendar):
    with db.read() as s:
        per_year = dict(s.execute(select(func.extract("year", m.NonWorkingDay.day), func.count())
                                  .where(m.NonWorkingDay.institution_id.is_(None))
                                  .group_by(func.extract("year", m.NonWorkingDay.day))).all())
        assert calendar.off_days(s) == official_days()
    assert {int(y): n for y, n in per_year.items()} == {2026: 11, 2027: 11}
    assert calendar.seed(db) == 0
    with db.write() as s:  # the central team takes Day of the Dead 2027 out
        s.execute(delete(m.NonWorkingDay).where(m.NonWorkingDay.day == date(2027, 11, 2)))
    assert calendar.seed(db) == 0
    with db.read() as s:
        assert date(2027, 11, 2) not in calendar.off_days(s)
        assert date(2026, 11, 2) in calendar.off_days(s)


def test_new_items_get_an_answer_date_that_skips_official_and_institution_days(db, restore_calendar):
    semarnat = institution_id(db, "SEMARNAT")
    with db.write() as s:
        s.add(m.NonWorkingDay(day=date(2027, 3, 29), institution_id=semarnat, name_es="Día de la institución"))
    with clock.frozen(MONDAY):  # 15 Mar 2027 is a statutory holiday itself (Benito Juárez): counting starts Tue 16
        own, other = new_item(db), new_item(db, "INEGI", "Censo de población por localidad")
    # 10 business days from Tue 16: 16-19, 22-24 (7), skip Thu 25 / Fri 26 (official), 29 (SEMARNAT's own) ...
    assert item(db, other).answer_by == policy.add_business_days(date(2027, 3, 15), 20, official_days())
    assert item(db, own).answer_by == policy.add_business_days(
        date(2027, 3, 15), 20, official_days() | {date(2027, 3, 29)})
    assert item(db, own).answer_by > item(db, other).answer_by
    assert policy.is_business_day(item(db, own).answer_by, official_days())


def test_the_plan_page_refuses_a_saturday_and_an_official_day_in_place(client, db, staff, restore_calendar):  # noqa: F811
    with clock.frozen(MONDAY):
        own = new_item(db, policy_days=None)
        as_(client, "admin")
        for day in ("2027-03-20", "2027-03-25"):
            r = post_form(client, f"/staff/plan/{own}/commit", {"due_date": day})
            assert r.status_code == 422
            assert "non-working day" in r.text or "inhábil" in r.text
            assert 'id="due_date-error"' in r.text
        assert item(db, own).status == m.PlanStatus.pending
        assert post_form(client, f"/staff/plan/{own}/commit", {"due_date": "2027-03-29"}).status_code == 303
        assert item(db, own).due_date == date(2027, 3, 29)


def test_an_institution_day_binds_that_institution_only(client, db, staff, restore_calendar):  # noqa: F811
    with clock.frozen(MONDAY):
        own, other = new_item(db, policy_days=None), new_item(db, "INEGI", "Censo de población", policy_days=None)
        as_(client, "central")
        r = post_form(client, "/staff/calendar/", {"day": "2027-04-05", "name_es": "Aniversario", "name_en": "",
                                                   "institution": str(institution_id(db, "SEMARNAT"))})
        assert r.status_code == 303
        assert post_form(client, f"/staff/plan/{own}/commit", {"due_date": "2027-04-05"}).status_code == 422
        assert post_form(client, f"/staff/plan/{other}/commit", {"due_date": "2027-04-05"}).status_code == 303


def test_the_central_team_edits_the_calendar(client, db, staff, restore_calendar):  # noqa: F811
    as_(client, "central")
    page = client.get("/staff/calendar/?year=2027")
    assert page.status_code == 200 and "Jueves Santo" in page.text and 'datetime="2027-03-25"' in page.text
    r = post_form(client, "/staff/calendar/", {"day": "2027-07-19", "name_es": "Vacaciones de verano", "name_en": "Summer break",
                                               "institution": ""})
    assert r.status_code == 303 and r.headers["location"].startswith("/staff/calendar")
    with db.read() as s:
        added = s.scalar(select(m.NonWorkingDay).where(m.NonWorkingDay.day == date(2027, 7, 19)))
        assert added.institution_id is None
        assert s.scalar(select(m.AuditEvent.action).where(m.AuditEvent.object_type == "non_working_day")) == "calendar.add"
    again = post_form(client, "/staff/calendar/", {"day": "2027-07-19", "name_es": "Otra vez", "institution": ""})
    assert again.status_code == 409  # the database's unique index, not a check in Python
    bad = post_form(client, "/staff/calendar/", {"day": "19/07/2027", "name_es": "", "institution": "99999"})
    assert bad.status_code == 422 and 'id="day-error"' in bad.text and 'id="name_es-error"' in bad.text
    assert 'id="institution-error"' in bad.text
    assert post_form(client, "/staff/calendar/delete", {"day_id": str(added.id), "year": "2027"}).status_code == 303
    with db.read() as s:
        assert date(2027, 7, 19) not in calendar.off_days(s)


def test_institution_staff_cannot_edit_the_calendar(client, db, staff):  # noqa: F811
    as_(client, "admin")
    assert client.get("/staff/calendar/").status_code == 403
    assert post_form(client, "/staff/calendar/", {"day": "2027-07-19", "name_es": "X"}).status_code == 403


def test_the_database_refuses_a_national_day_twice(db, restore_calendar):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), db.write() as s:
        s.add(m.NonWorkingDay(day=date(2027, 3, 25), institution_id=None, name_es="Duplicado"))
