"""Business days on the Mexican federal calendar, across holidays and year ends.

Every expected date below was checked by hand against a calendar (weekday noted in the comment) and
the statutory rest days of the Ley Federal del Trabajo, art. 74, as the `holidays` package lists them.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idmx.plans import policy

CASES = [
    # (start, business days, expected, why)
    (date(2026, 12, 23), 3, date(2026, 12, 29), "Thu 24 counts, Fri 25 Christmas, weekend, Mon 28, Tue 29"),
    (date(2026, 12, 30), 2, date(2027, 1, 4), "Thu 31 counts, Fri 1 Jan New Year, weekend, Mon 4"),
    (date(2025, 12, 31), 1, date(2026, 1, 2), "Thu 1 Jan New Year, Fri 2"),
    (date(2027, 12, 24), 1, date(2027, 12, 27), "Sat 25 Christmas falls on a weekend: no substitute day; Mon 27"),
    (date(2026, 1, 30), 1, date(2026, 2, 3), "Mon 2 Feb Constitution Day (first Monday of February), Tue 3"),
    (date(2027, 1, 29), 1, date(2027, 2, 2), "Mon 1 Feb 2027 Constitution Day, Tue 2"),
    (date(2026, 3, 13), 1, date(2026, 3, 17), "Mon 16 Mar Benito Juárez (third Monday of March), Tue 17"),
    (date(2026, 4, 30), 1, date(2026, 5, 4), "Fri 1 May Labour Day, weekend, Mon 4"),
    (date(2026, 9, 15), 1, date(2026, 9, 17), "Wed 16 Sep Independence Day, Thu 17"),
    (date(2026, 11, 13), 1, date(2026, 11, 17), "Mon 16 Nov Revolution Day (third Monday of November), Tue 17"),
    (date(2024, 9, 30), 1, date(2024, 10, 2), "Tue 1 Oct 2024 inauguration of the federal government, Wed 2"),
    (date(2025, 9, 30), 1, date(2025, 10, 1), "1 Oct 2025 is no inauguration: an ordinary Wednesday"),
    (date(2030, 9, 30), 1, date(2030, 10, 2), "Tue 1 Oct 2030 inauguration (every six years), Wed 2"),
    (date(2026, 4, 1), 2, date(2026, 4, 3), "Holy Thursday 2 Apr and Good Friday 3 Apr are not federal rest days"),
    (date(2026, 11, 27), 1, date(2026, 11, 30), "Friday plus one: Monday"),
    (date(2026, 11, 28), 0, date(2026, 11, 30), "a Saturday start rolls forward to Monday"),
    (date(2026, 11, 28), 1, date(2026, 12, 1), "a Saturday start counts from Monday: one business day later is Tuesday"),
    (date(2026, 11, 30), 0, date(2026, 11, 30), "zero days from a business day is that day"),
    (date(2026, 12, 21), 10, date(2027, 1, 6), "22-24 and 28-31 Dec are 7, 25 Dec and 1 Jan skipped, Mon 4, Tue 5, Wed 6 is the tenth"),
]


@pytest.mark.parametrize("start,days,expected,why", CASES, ids=[c[3] for c in CASES])
def test_add_business_days_hand_checked(start, days, expected, why):
    assert policy.add_business_days(start, days) == expected, why


@pytest.mark.parametrize("day,business", [
    (date(2026, 1, 1), False), (date(2026, 2, 2), False), (date(2026, 3, 16), False), (date(2026, 5, 1), False),
    (date(2026, 9, 16), False), (date(2026, 11, 16), False), (date(2026, 12, 25), False), (date(2024, 10, 1), False),
    (date(2026, 11, 28), False), (date(2026, 11, 29), False),  # a weekend
    (date(2026, 4, 2), True), (date(2026, 4, 3), True),  # Holy week: not in the federal calendar
    (date(2025, 12, 12), True),  # Guadalupe day is a religious feast, not a statutory rest day
    (date(2026, 11, 2), True),  # Day of the Dead likewise
    (date(2026, 11, 20), True),  # the Revolution is rested on the third Monday, not on the 20th
    (date(2026, 2, 5), True),  # nor the Constitution on the 5th
    (date(2025, 10, 1), True),
])
def test_is_business_day(day, business):
    assert policy.is_business_day(day) is business


def test_business_days_between_counts_half_open_intervals():
    assert policy.business_days_between(date(2026, 12, 23), date(2026, 12, 29)) == 3  # 23, 24, 28
    assert policy.business_days_between(date(2024, 9, 30), date(2024, 10, 3)) == 2  # 30 Sep, 2 Oct
    assert policy.business_days_between(date(2026, 12, 31), date(2027, 1, 5)) == 2  # 31 Dec, 4 Jan
    assert policy.business_days_between(date(2026, 5, 1), date(2026, 5, 1)) == 0
    assert policy.business_days_between(date(2026, 5, 4), date(2026, 5, 1)) == 0


def test_federal_holidays_span_year_ends():
    days = {d.astype(date) for d in policy.federal_holidays(date(2026, 12, 1), date(2027, 1, 31))}
    assert {date(2026, 12, 25), date(2027, 1, 1)} <= days


def test_negative_days_are_refused():
    with pytest.raises(ValueError):
        policy.add_business_days(date(2026, 1, 5), -1)


def _first_business_day(day: date) -> date:
    while not policy.is_business_day(day):
        day += timedelta(days=1)
    return day


@settings(max_examples=150, deadline=None)
@given(start=st.dates(min_value=date(2023, 1, 1), max_value=date(2031, 12, 31)), days=st.integers(0, 300))
def test_adding_then_counting_agrees(start, days):
    end = policy.add_business_days(start, days)
    assert policy.is_business_day(end)
    assert end >= start
    assert policy.business_days_between(_first_business_day(start), end) == days
    # One more business day is strictly later and also a business day.
    later = policy.add_business_days(start, days + 1)
    assert later > end and policy.business_days_between(end, later) == 1


@settings(max_examples=60, deadline=None)
@given(start=st.dates(min_value=date(2023, 1, 1), max_value=date(2031, 12, 31)))
def test_a_week_of_business_days_never_takes_less_than_a_calendar_week(start):
    end = policy.add_business_days(_first_business_day(start), 5)
    assert (end - _first_business_day(start)).days >= 7
