"""The calendar form (pure): one non-working day, national or one institution's."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from idmx.fields import check_length, clean_text, id_choice
from idmx.i18n import gettext as _

NAME_MAX = 200
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass
class DayForm:
    day: date | None = None
    name_es: str = ""
    name_en: str = ""
    institution_id: int | None = None  # None: a national day
    raw_day: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def parse_day(data: dict[str, Any], institution_ids: set[int]) -> DayForm:
    form = DayForm(name_es=clean_text(data.get("name_es")), name_en=clean_text(data.get("name_en")),
                   raw_day=clean_text(data.get("day")))
    if ISO_DATE.fullmatch(form.raw_day):
        try:
            form.day = date.fromisoformat(form.raw_day)
        except ValueError:
            form.day = None
    if form.day is None:
        form.errors["day"] = _("Write the date as yyyy-mm-dd, for example 2027-03-31.")
    if not form.name_es:
        form.errors["name_es"] = _("Give the day's name in Spanish.")
    check_length(form.name_es, "name_es", NAME_MAX, form.errors)
    check_length(form.name_en, "name_en", NAME_MAX, form.errors)
    form.institution_id = id_choice(data.get("institution"), institution_ids, form.errors, "institution",
                                    _("Choose an institution from the list, or none for a national day."))
    return form
