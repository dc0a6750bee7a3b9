"""The audit log's filter form (pure): parsed from the query string, with a message per bad field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlencode

from idmx.fields import clean_text
from idmx.i18n import gettext as _

SYSTEM = "system"  # actor filter: actions without a staff member (command line, seeds)
CENTRAL_TEAM = "central"  # institution filter: actions of the central team


@dataclass
class AuditFilters:
    actor: str = ""
    institution: str = ""
    action: str = ""
    object_type: str = ""
    object_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1
    raw: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def query(self, **changes: Any) -> str:
        """This filter set as a query string, with `changes` applied (e.g. another page)."""
        values = {**{k: v for k, v in self.raw.items() if v and k not in self.errors}, **changes}
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})


def _parse_date(raw: str, name: str, errors: dict[str, str]) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = _("Write a date as YYYY-MM-DD.")
        return None


def parse_filters(params: Mapping[str, Any]) -> AuditFilters:
    keys = ("actor", "institution", "action", "object_type", "object_id", "from", "to", "page")
    raw = {k: clean_text(params.get(k))[:100] for k in keys}
    errors: dict[str, str] = {}
    for key in ("actor", "institution"):
        if raw[key] and not raw[key].isdigit() and raw[key] not in (SYSTEM, CENTRAL_TEAM):
            errors[key] = _("Choose an option from the list.")
    object_id = int(raw["object_id"]) if raw["object_id"].isdigit() else None
    if raw["object_id"] and object_id is None:
        errors["object_id"] = _("Write a whole number.")
    date_from = _parse_date(raw["from"], "from", errors)
    date_to = _parse_date(raw["to"], "to", errors)
    if date_from and date_to and date_from > date_to:
        errors["to"] = _("The end date must not be before the start date.")
        date_to = None
    return AuditFilters(
        actor="" if "actor" in errors else raw["actor"],
        institution="" if "institution" in errors else raw["institution"],
        action=raw["action"], object_type=raw["object_type"], object_id=object_id, date_from=date_from,
        date_to=date_to, page=int(raw["page"]) if raw["page"].isdigit() and int(raw["page"]) > 0 else 1,
        raw={k: v for k, v in raw.items() if k != "page"}, errors=errors,
    )
