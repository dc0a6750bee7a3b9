"""Parsing and validating the data-request forms: the public request and the central team's decisions.

Parsed by hand from the form body (see `idmx.consultations.forms`), so a person gets their own form
back with a message next to each field instead of a JSON 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from idmx.consultations.forms import DESCRIPTION_MAX, TITLE_MAX, TITLE_MIN, USE_MAX
from idmx.enums import DataRequestKind
from idmx.fields import check_length, clean_text, id_choice, only_fields
from idmx.i18n import gettext as _

REASON_MAX = 2000
NOTE_MAX = 1000
KINDS = tuple(k.value for k in DataRequestKind)


@dataclass
class RequestForm:
    kind: str = DataRequestKind.new_dataset.value
    title: str = ""
    description: str = ""
    intended_use: str = ""
    institution_id: int | None = None
    segment_id: int | None = None
    about_item_id: int | None = None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors


def parse_request(form: Mapping[str, Any], *, institutions: set[int], segments: set[int],
                  published_items: set[int]) -> RequestForm:
    """The public request form. `published_items`: the plan items a problem report may be about."""
    form = only_fields(form, ("kind", "title", "description", "intended_use", "institution", "segment", "about",
                              "website"))
    errors: dict[str, str] = {}
    kind = clean_text(form.get("kind"))
    if kind not in KINDS:
        errors["kind"] = _("Choose what you are sending: a request for new data or a problem with published data.")
        kind = DataRequestKind.new_dataset.value
    title = " ".join(clean_text(form.get("title")).split())
    if len(title) < TITLE_MIN:
        errors["title"] = _("Write a title of at least %(min)s characters.") % {"min": TITLE_MIN}
    check_length(title, "title", TITLE_MAX, errors)
    description = clean_text(form.get("description"))
    check_length(description, "description", DESCRIPTION_MAX, errors)
    intended_use = clean_text(form.get("intended_use"))
    check_length(intended_use, "intended_use", USE_MAX, errors)
    institution_id = id_choice(form.get("institution"), institutions, errors, "institution",
                                _("Choose an institution from the list, or “I don't know”."))
    segment_id = id_choice(form.get("segment"), segments, errors, "segment", _("Choose a sector from the list."))
    about_item_id = None
    if kind == DataRequestKind.problem.value:
        about_item_id = id_choice(form.get("about"), published_items, errors, "about",
                                   _("Choose the published dataset that has the problem."))
        if about_item_id is None and "about" not in errors:
            errors["about"] = _("Choose the published dataset that has the problem.")
    if clean_text(form.get("website")):  # the honeypot
        errors["form"] = _("Your request could not be accepted. If you are a person, please try again.")
    return RequestForm(kind=kind, title=title, description=description, intended_use=intended_use,
                       institution_id=institution_id, segment_id=segment_id, about_item_id=about_item_id,
                       errors=errors)


@dataclass
class RouteForm:
    institution_id: int | None = None
    note: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def parse_route(form: Mapping[str, Any], institutions: set[int]) -> RouteForm:
    errors: dict[str, str] = {}
    institution_id = id_choice(form.get("institution"), institutions, errors, "institution",
                                _("Choose the institution that will answer this request."))
    if institution_id is None and "institution" not in errors:
        errors["institution"] = _("Choose the institution that will answer this request.")
    note = clean_text(form.get("note"))
    check_length(note, "note", NOTE_MAX, errors)
    return RouteForm(institution_id=institution_id, note=note, errors=errors)


@dataclass
class RejectForm:
    reason: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def parse_reject(form: Mapping[str, Any]) -> RejectForm:
    errors: dict[str, str] = {}
    reason = clean_text(form.get("reason"))
    if not reason:
        errors["reason"] = _("Give the reason for rejecting this request: it is shown publicly.")
    check_length(reason, "reason", REASON_MAX, errors)
    return RejectForm(reason=reason, errors=errors)
