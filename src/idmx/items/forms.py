"""Following plan items, the pure part: the follow form's address and the cookie that remembers follows.

Cookie follows: the ids of the followed items in the ``idmx_follows`` cookie ("12-40-7"), newest last, at
most `MAX_COOKIE_FOLLOWS`; the browser is the only place that knows them (nothing stored on the server).
"""

from __future__ import annotations

import re

COOKIE = "idmx_follows"
MAX_COOKIE_FOLLOWS = 100
MAX_EMAIL = 254


# A practical shape check, not RFC 5322: one @, no spaces or separators, a dot in the domain.
_EMAIL = re.compile(r"^[^\s@<>()\[\]\\,;:\"']{1,64}@[^\s@<>()\[\]\\,;:\"'.]+(\.[^\s@<>()\[\]\\,;:\"'.]+)+$")


def normalise_email(raw: object) -> str | None:
    """The address lower-cased and trimmed, or None when it does not look like an e-mail address."""
    if not isinstance(raw, str):
        return None
    email = raw.strip().lower()
    if not email or len(email) > MAX_EMAIL or not _EMAIL.match(email):
        return None
    return email


def cookie_ids(value: str | None) -> list[int]:
    """Item ids in the cookie, oldest first, without duplicates or junk."""
    ids: list[int] = []
    for part in (value or "").split("-")[:MAX_COOKIE_FOLLOWS * 2]:
        if part.isdigit() and len(part) <= 12 and int(part) not in ids:
            ids.append(int(part))
    return ids[-MAX_COOKIE_FOLLOWS:]


def cookie_with(value: str | None, item_id: int) -> str:
    ids = [i for i in cookie_ids(value) if i != item_id] + [item_id]
    return "-".join(str(i) for i in ids[-MAX_COOKIE_FOLLOWS:])


def cookie_without(value: str | None, item_id: int) -> str:
    return "-".join(str(i) for i in cookie_ids(value) if i != item_id)
