"""Parsing helpers every forms.py shares (pure).

Forms are parsed from the submitted mapping by hand rather than by typed form models: a typed model
answers an empty optional number or a one-item checkbox list with a JSON 400 (litestar #2028), and
people must get their own form back with the message next to the field instead.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from idmx.errors import DomainError
from idmx.i18n import gettext as _

__all__ = ["DONT_KNOW", "FORM_FIELDS", "FormShapeError", "check_length", "clean_text", "form_int", "id_choice", "only_fields"]

# The "I don't know" option of optional choices.
DONT_KNOW = "unknown"


def clean_text(value: Any) -> str:
    """Normalise what a browser sent: NFC, no control characters, trimmed."""
    if not isinstance(value, str):
        return ""
    value = unicodedata.normalize("NFC", value)
    value = "".join(ch for ch in value if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return value.strip()


def id_choice(raw: Any, allowed: set[int], errors: dict[str, str], name: str, message: str) -> int | None:
    text = clean_text(raw)
    if text in ("", DONT_KNOW):
        return None
    try:
        value = int(text)
    except ValueError:
        errors[name] = message
        return None
    if value not in allowed:
        errors[name] = message
        return None
    return value


def check_length(value: str, name: str, maximum: int, errors: dict[str, str]) -> None:
    if len(value) > maximum:
        errors[name] = _("At most %(max)s characters (you wrote %(n)s).") % {"max": maximum, "n": len(value)}


def form_int(value: Any) -> int | None:
    """An id or number from a form or query string; None when empty or not a whole number."""
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


# What every form may carry besides its own fields: the CSRF token (`idmx.web` renders it).
FORM_FIELDS = frozenset({"_csrf_token"})


class FormShapeError(DomainError):
    """A submitted form with fields it should not have, a field twice, or a value that is not text: the
    request was not made by our page, so it is refused whole (400) and nothing is stored."""


def only_fields(form: Mapping[str, Any], allowed: Iterable[str], required: Iterable[str] = ()) -> dict[str, str]:
    """The form's fields, each exactly once and as text, when they are among `allowed` (plus
    `FORM_FIELDS`) and include `required`; anything else raises `FormShapeError` naming the field."""
    allowed = FORM_FIELDS | set(allowed)
    getall = getattr(form, "getall", None)
    values: dict[str, str] = {}
    for key in form:
        name = str(key)
        if name not in allowed:
            raise FormShapeError(_("This form carries a field it should not (%(name)s). Nothing was saved.")
                                 % {"name": clean_text(name)[:40]}, field=clean_text(name)[:40])
        raw = getall(key) if getall else form[key]
        items = raw if isinstance(raw, list) else [raw]
        if len(items) != 1:
            raise FormShapeError(_("This form sends a field twice (%(name)s). Nothing was saved.") % {"name": name},
                                 field=name)
        if not isinstance(items[0], str):
            raise FormShapeError(_("This form is not made of text fields. Nothing was saved."), field=name)
        values[name] = items[0]
    missing = sorted(set(required) - values.keys())
    if missing:
        raise FormShapeError(_("This form is missing a field (%(name)s). Nothing was saved.") % {"name": missing[0]},
                             field=missing[0])
    return values
