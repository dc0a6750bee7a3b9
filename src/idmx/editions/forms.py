"""The central team's edition forms (pure): settings and tiers, an item's corrections, the runs and their weights.

Parsed by hand from the submitted mapping (see `idmx.fields`), so staff get their form back with a message next
to each field.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from idmx.editions import priority
from idmx.fields import clean_text
from idmx.i18n import gettext as _
from idmx.plans import policy

if TYPE_CHECKING:
    from idmx.db import models as m

SERIES_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SERIES_MIN, SERIES_MAX = 3, 80
TITLE_MIN, TITLE_MAX = 5, 200
EDITION_TITLE_MAX = 200
DESCRIPTION_MAX = 4000
NOTES_MAX = 4000
TIER_COUNT = len(policy.DEFAULT_TIERS)


@dataclass
class EditionForm:
    """Settings of an edition as typed (`raw`), parsed (`values`, `tiers`) and their problems."""

    raw: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    tiers: list[priority.Tier] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors


def tier_rows(form: EditionForm) -> list[dict[str, str]]:
    return [{"n": str(n), "business_days": form.raw.get(f"tier{n}_business_days", ""),
             "up_to_rank": form.raw.get(f"tier{n}_up_to_rank", "")} for n in range(1, TIER_COUNT + 1)]


def blank_form() -> EditionForm:
    raw = {"series": "", "title_es": "", "title_en": "", "notes_es": "",
           "answer_business_days": str(policy.DEFAULT_ANSWER_DAYS)}
    for tier, days, up_to in policy.DEFAULT_TIERS:
        raw[f"tier{tier}_business_days"] = str(days)
        raw[f"tier{tier}_up_to_rank"] = "" if up_to is None else str(up_to)
    return EditionForm(raw=raw)


def form_of(edition: m.Edition, tiers: list[m.EditionTier]) -> EditionForm:
    raw = {"series": edition.series, "title_es": edition.title_es, "title_en": edition.title_en,
           "notes_es": edition.notes_es, "answer_business_days": str(edition.answer_business_days)}
    by_tier = {t.tier: t for t in tiers}
    for n in range(1, TIER_COUNT + 1):
        t = by_tier.get(n)
        raw[f"tier{n}_business_days"] = str(t.business_days) if t else ""
        raw[f"tier{n}_up_to_rank"] = "" if t is None or t.up_to_rank is None else str(t.up_to_rank)
    return EditionForm(raw=raw)


def _whole(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) <= 6 else None


def parse_edition(data: dict[str, Any], *, with_series: bool) -> EditionForm:
    """Validate the settings form; `with_series` for a new edition (the series never changes later)."""
    names = ["title_es", "title_en", "notes_es", "answer_business_days"] + [
        f"tier{n}_{part}" for n in range(1, TIER_COUNT + 1) for part in ("business_days", "up_to_rank")]
    if with_series:
        names.insert(0, "series")
    raw = {name: clean_text(data.get(name)) for name in names}
    form = EditionForm(raw=raw)
    errors, values = form.errors, form.values
    if with_series:
        series = raw["series"].lower()
        raw["series"] = series
        if not SERIES_MIN <= len(series) <= SERIES_MAX:
            errors["series"] = _("The series needs %(min)s to %(max)s characters.") % {"min": SERIES_MIN, "max": SERIES_MAX}
        elif not SERIES_RE.match(series):
            errors["series"] = _("Use only lowercase letters without accents, digits and single hyphens, e.g. “idmx-2027”.")
        values["series"] = series
    if not raw["title_es"]:
        errors["title_es"] = _("Give the edition a title.")
    elif len(raw["title_es"]) > EDITION_TITLE_MAX:
        errors["title_es"] = _("The title is too long (%(max)s characters at most).") % {"max": EDITION_TITLE_MAX}
    if len(raw["title_en"]) > EDITION_TITLE_MAX:
        errors["title_en"] = _("The title is too long (%(max)s characters at most).") % {"max": EDITION_TITLE_MAX}
    if len(raw["notes_es"]) > NOTES_MAX:
        errors["notes_es"] = _("The notes are too long (%(max)s characters at most).") % {"max": NOTES_MAX}
    values.update(title_es=raw["title_es"], title_en=raw["title_en"], notes_es=raw["notes_es"])
    answer = _whole(raw["answer_business_days"])
    if answer is None or not 1 <= answer <= 250:
        errors["answer_business_days"] = _("Give a whole number of business days from 1 to 250.")
    values["answer_business_days"] = answer
    previous_limit = 0
    open_ended = False
    for n in range(1, TIER_COUNT + 1):
        days_name, rank_name = f"tier{n}_business_days", f"tier{n}_up_to_rank"
        days = _whole(raw[days_name])
        if days is None or not 1 <= days <= 750:
            errors[days_name] = _("Give a whole number of business days from 1 to 750.")
        up_to: int | None = None
        if raw[rank_name]:
            up_to = _whole(raw[rank_name])
            if up_to is None or up_to < 1:
                errors[rank_name] = _("Give a rank (a whole number from 1), or leave it empty for every item left.")
            elif open_ended or up_to <= previous_limit:
                errors[rank_name] = _("Each tier must end at a later rank than the tier before it.")
            else:
                previous_limit = up_to
        elif n < TIER_COUNT:
            open_ended = True
        if open_ended and n == TIER_COUNT and raw[rank_name]:
            errors.setdefault(rank_name, _("Each tier must end at a later rank than the tier before it."))
        form.tiers.append(priority.Tier(n, days or 1, up_to))
    return form


@dataclass
class ItemForm:
    raw: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors


def item_form_of(item: m.InfrastructureItem) -> ItemForm:
    return ItemForm(raw={
        "title": item.title, "description": item.description,
        "institution": "" if item.institution_id is None else str(item.institution_id),
        "topic": "" if item.topic_id is None else str(item.topic_id), "tier": "" if item.tier is None else str(item.tier),
    })


def parse_item(data: dict[str, Any], *, institutions: set[int], topics: set[int], tiers: set[int]) -> ItemForm:
    raw = {name: clean_text(data.get(name)) for name in ("title", "description", "institution", "topic", "tier")}
    form = ItemForm(raw=raw)
    errors, values = form.errors, form.values
    if not TITLE_MIN <= len(raw["title"]) <= TITLE_MAX:
        errors["title"] = _("The title needs %(min)s to %(max)s characters.") % {"min": TITLE_MIN, "max": TITLE_MAX}
    if len(raw["description"]) > DESCRIPTION_MAX:
        errors["description"] = _("The description is too long (%(max)s characters at most).") % {"max": DESCRIPTION_MAX}
    values.update(title=raw["title"], description=raw["description"])
    for name, allowed, message in (
        ("institution", institutions, _("Choose an institution from the list.")),
        ("topic", topics, _("Choose a topic from the list.")),
        ("tier", tiers, _("Choose one of the edition's tiers.")),
    ):
        value = _whole(raw[name]) if raw[name] else None
        if raw[name] and (value is None or value not in allowed):
            errors[name] = message
        values[name] = value
    return form


@dataclass
class RunsForm:
    raw: dict[str, str]
    selection: dict[int, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors


def parse_weight(text: str) -> float | None:
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        return None
    return value if math.isfinite(value) and 0 < value <= 1000 else None


def parse_runs(data: dict[str, Any], choices: list[ConsultationRuns]) -> RunsForm:
    """Fields ``run_<consultation id>`` (a run id or empty) and ``weight_<consultation id>``."""
    form = RunsForm(raw={})
    for group in choices:
        run_name, weight_name = f"run_{group.consultation_id}", f"weight_{group.consultation_id}"
        run_text, weight_text = clean_text(data.get(run_name)), clean_text(data.get(weight_name)) or "1"
        form.raw[run_name], form.raw[weight_name] = run_text, weight_text
        if not run_text:
            continue
        run_id = _whole(run_text)
        if run_id is None or run_id not in {r.run_id for r in group.runs}:
            form.errors[run_name] = _("Choose one of this consultation's runs.")
            continue
        weight = parse_weight(weight_text)
        if weight is None:
            form.errors[weight_name] = _("Give a weight greater than 0 (at most 1000).")
            continue
        form.selection[run_id] = weight
    if not form.selection and not form.errors:
        form.errors["runs"] = _("Choose at least one ranking run.")
    return form


@dataclass
class RunChoice:
    run_id: int
    method: str
    created_at: datetime
    latest: bool
    excludes_flagged: bool = False  # leaves out the respondents flagged as suspicious


@dataclass
class ConsultationRuns:
    consultation_id: int
    title: str
    slug: str
    institution: str | None
    runs: list[RunChoice]
    selected: int | None = None
    weight: float = 1.0
