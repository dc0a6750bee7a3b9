"""Parsing the central team's institution forms: pure functions over what the browser sent.

Each returns the values to show back in the inputs, the parsed values (None when invalid) and messages
keyed by field, so the page re-renders in place with every problem at once and nothing is stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from idmx.enums import Level
from idmx.fields import clean_text, form_int
from idmx.i18n import gettext as _

ACRONYM_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,29}$")
NAME_MAX = 250


@dataclass
class NewInstitution:
    raw: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    acronym: str = ""
    name_es: str = ""
    name_en: str = ""
    level: Level | None = None
    state_id: int | None = None


def parse_new(data: Mapping[str, Any], state_ids: set[int]) -> NewInstitution:
    raw = {k: clean_text(data.get(k)) for k in ("acronym", "name_es", "name_en", "level", "state")}
    form = NewInstitution(raw)
    form.acronym = raw["acronym"].upper()
    if not ACRONYM_RE.match(form.acronym):
        form.errors["acronym"] = _("Write the acronym in capitals, digits and hyphens (2 to 30), e.g. CNA or GOB-JAL.")
    for name in ("name_es", "name_en"):
        value = " ".join(raw[name].split())
        if not value:
            form.errors[name] = _("Write the name.")
        elif len(value) > NAME_MAX:
            form.errors[name] = _("At most %(n)d characters.") % {"n": NAME_MAX}
        setattr(form, name, value)
    try:
        form.level = Level(raw["level"])
    except ValueError:
        form.errors["level"] = _("Choose federal, state or municipal.")
    state = form_int(raw["state"]) if raw["state"] else None
    if raw["state"] and state not in state_ids:
        form.errors["state"] = _("Choose a state from the list.")
    form.state_id = state if state in state_ids else None
    if form.level in (Level.state, Level.municipal) and form.state_id is None and "state" not in form.errors:
        form.errors["state"] = _("A state or municipal institution needs its state.")
    return form


@dataclass
class Succession:
    raw: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    institution_id: int | None = None
    successor_id: int | None = None
    dissolved_on: date | None = None


def parse_succession(data: Mapping[str, Any], institution_ids: set[int]) -> Succession:
    raw = {k: clean_text(data.get(k)) for k in ("institution", "successor", "dissolved_on")}
    form = Succession(raw)
    form.institution_id = form_int(raw["institution"])
    form.successor_id = form_int(raw["successor"])
    if form.institution_id not in institution_ids:
        form.errors["institution"] = _("Choose the institution that was abolished or merged.")
    if form.successor_id not in institution_ids:
        form.errors["successor"] = _("Choose the institution that took over its functions.")
    elif form.successor_id == form.institution_id:
        form.errors["successor"] = _("An institution cannot succeed itself.")
    try:
        form.dissolved_on = date.fromisoformat(raw["dissolved_on"])
    except ValueError:
        form.errors["dissolved_on"] = _("Give the date it ceased, as YYYY-MM-DD.")
    return form
