"""Parsing helpers every forms.py shares (pure).

Forms are parsed from the submitted mapping by hand rather than by typed form models: a typed model
answers an empty optional number or a one-item checkbox list with a JSON 400 (litestar #2028), and
people must get their own form back with the message next to the field instead.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from idmx.i18n import gettext as _

__all__ = ["DONT_KNOW", "check_length", "clean_text", "form_int", "id_choice"]

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
