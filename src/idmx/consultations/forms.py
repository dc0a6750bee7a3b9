"""Parsing and validating the public participation forms (see `idmx.fields` for why by hand)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from idmx.fields import check_length, clean_text, id_choice, only_fields
from idmx.i18n import gettext as _

TITLE_MIN, TITLE_MAX = 5, 200
DESCRIPTION_MAX = 4000
USE_MAX = 1000
ORGANISATION_MAX = 200
USE_WHO_MAX = 500
REASON_MAX = 1000


@dataclass
class ProposalForm:
    title: str = ""
    description: str = ""
    institution_id: int | None = None
    topic_id: int | None = None
    intended_use: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)
    # The title the respondent was shown similar proposals for and still chose to send (the hidden
    # field `confirm`); only a proposal whose title is exactly that skips the similar-proposals check.
    confirmed_title: str = ""

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def confirmed_different(self) -> bool:
        return bool(self.title) and self.confirmed_title == self.title


PROPOSAL_FIELDS = ("title", "description", "institution", "topic", "intended_use", "website", "confirm")
PROFILE_FIELDS = ("segment", "state", "organisation", "use_who", "use_purpose", "use_benefit", "website", "next", "skip")
REPORT_FIELDS = ("reason", "website")


def parse_proposal(form: Mapping[str, Any], institutions: set[int], topics: set[int]) -> ProposalForm:
    form = only_fields(form, PROPOSAL_FIELDS)
    errors: dict[str, str] = {}
    raw = {k: clean_text(form.get(k)) for k in ("title", "description", "institution", "topic", "intended_use")}
    title = " ".join(raw["title"].split())
    if len(title) < TITLE_MIN:
        errors["title"] = _("Write a title of at least %(min)s characters.") % {"min": TITLE_MIN}
    check_length(title, "title", TITLE_MAX, errors)
    check_length(raw["description"], "description", DESCRIPTION_MAX, errors)
    check_length(raw["intended_use"], "intended_use", USE_MAX, errors)
    institution_id = id_choice(
        raw["institution"], institutions, errors, "institution", _("Choose an institution from the list, or “I don't know”.")
    )
    topic_id = id_choice(raw["topic"], topics, errors, "topic", _("Choose a topic from the list."))
    if clean_text(form.get("website")):  # the honeypot
        errors["form"] = _("Your proposal could not be accepted. If you are a person, please try again.")
    return ProposalForm(
        title=title,
        description=raw["description"],
        institution_id=institution_id,
        topic_id=topic_id,
        intended_use=raw["intended_use"],
        errors=errors,
        raw=raw,
        confirmed_title=" ".join(clean_text(form.get("confirm")).split())[:TITLE_MAX],
    )


@dataclass
class ProfileForm:
    segment_id: int | None = None
    state_id: int | None = None
    organisation: str = ""
    use_who: str = ""
    use_purpose: str = ""
    use_benefit: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors


def parse_profile(
    form: Mapping[str, Any], segments: set[int], states: set[int], *, segment_required: bool
) -> ProfileForm:
    form = only_fields(form, PROFILE_FIELDS)
    errors: dict[str, str] = {}
    segment_id = id_choice(form.get("segment"), segments, errors, "segment", _("Choose a sector from the list."))
    if segment_required and segment_id is None and "segment" not in errors:
        errors["segment"] = _("This consultation asks every participant for their sector.")
    state_id = id_choice(form.get("state"), states, errors, "state", _("Choose a state from the list."))
    values = {k: clean_text(form.get(k)) for k in ("organisation", "use_who", "use_purpose", "use_benefit")}
    check_length(values["organisation"], "organisation", ORGANISATION_MAX, errors)
    check_length(values["use_who"], "use_who", USE_WHO_MAX, errors)
    check_length(values["use_purpose"], "use_purpose", USE_MAX, errors)
    check_length(values["use_benefit"], "use_benefit", USE_MAX, errors)
    if clean_text(form.get("website")):
        errors["form"] = _("Your answers could not be accepted. If you are a person, please try again.")
    return ProfileForm(segment_id=segment_id, state_id=state_id, errors=errors, **values)


def parse_rating(raw: Any) -> int | None:
    try:
        value = int(clean_text(raw))
    except ValueError:
        return None
    return value if 1 <= value <= 5 else None


@dataclass
class ReportForm:
    reason: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors


def parse_report(form: Mapping[str, Any]) -> ReportForm:
    form = only_fields(form, REPORT_FIELDS)
    reason = clean_text(form.get("reason"))
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = _("Tell the moderators what is wrong with this proposal.")
    elif len(reason) > REASON_MAX:
        errors["reason"] = _("At most %(max)s characters (you wrote %(n)s).") % {"max": REASON_MAX, "n": len(reason)}
    if clean_text(form.get("website")):  # the honeypot
        errors["form"] = _("Your report could not be accepted. If you are a person, please try again.")
    return ReportForm(reason=reason, errors=errors)
