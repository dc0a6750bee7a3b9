"""Following plan items: by cookie (nothing stored on the server) or by e-mail (confirmed first).

E-mail follows: one row per (item, address), enforced by a unique index and INSERT ... ON CONFLICT,
so repeating a request never duplicates a row. The answer is the same whether the address was new,
waiting for confirmation or already confirmed, so the form does not reveal who follows what. A new
or still unconfirmed follow gets a confirmation e-mail with a fresh token (only its SHA-256 is kept);
nothing else is ever sent to an unconfirmed address.

Cookie follows: the ids of the followed items in the ``idmx_follows`` cookie ("12-40-7"), newest
last, at most `MAX_COOKIE_FOLLOWS`; the browser is the only place that knows them.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from idmx import clock, i18n
from idmx.db import Database
from idmx.db import models as m
from idmx.db.upsert import insert_for
from idmx.errors import NotFound
from idmx.i18n import gettext as _
from idmx.notify import links, outbox

COOKIE = "idmx_follows"
MAX_COOKIE_FOLLOWS = 100
MAX_EMAIL = 254
# A practical shape check, not RFC 5322: one @, no spaces or separators, a dot in the domain.
_EMAIL = re.compile(r"^[^\s@<>()\[\]\\,;:\"']{1,64}@[^\s@<>()\[\]\\,;:\"'.]+(\.[^\s@<>()\[\]\\,;:\"'.]+)+$")


# --- e-mail follows ---------------------------------------------------------------------------------------


def normalise_email(raw: object) -> str | None:
    """The address lower-cased and trimmed, or None when it does not look like an e-mail address."""
    if not isinstance(raw, str):
        return None
    email = raw.strip().lower()
    if not email or len(email) > MAX_EMAIL or not _EMAIL.match(email):
        return None
    return email


def follow_item(db: Database, item_id: int, email: str, language: str) -> None:
    """Follow a plan item by e-mail (already normalised). Same effect and answer whatever existed before."""
    with db.write() as s:
        item = s.get(m.PlanItem, item_id)
        if item is None:
            raise NotFound(_("This item does not exist."))
        token = secrets.token_urlsafe(32)
        token_hash = links.hash_token(token)
        language = language if language in i18n.LANGUAGES else i18n.DEFAULT
        inserted = s.execute(
            insert_for(s, m.Follow.__table__)
            .values(plan_item_id=item_id, email=email, token_hash=token_hash, language=language, created_at=clock.now())
            .on_conflict_do_nothing(index_elements=["plan_item_id", "email"])
            .returning(m.Follow.__table__.c.id)  # rowcount is -1 here on PostgreSQL: ask for the row instead
        ).scalar_one_or_none()
        if inserted is None:
            # Already there: resend the confirmation (with a new token) only while it is unconfirmed.
            rotated = s.execute(
                update(m.Follow)
                .where(m.Follow.plan_item_id == item_id, m.Follow.email == email, m.Follow.confirmed_at.is_(None))
                .values(token_hash=token_hash, language=language)
            ).rowcount
            if not rotated:
                return
        _queue_confirmation(s, item, email, language, token)


def _queue_confirmation(s: Session, item: m.PlanItem, email: str, language: str, token: str) -> None:
    lang_token = i18n.activate(language)
    try:
        subject = _("Confirm that you want to follow “%(title)s”") % {"title": item.title}
        body = "\n\n".join([
            _("Someone, probably you, asked to receive an e-mail on IDMX whenever the answer to “%(title)s” changes.")
            % {"title": item.title},
            _("To confirm, open this link and press the button:") + "\n" + links.absolute(links.confirm_path(token)),
            _("If it was not you, ignore this message: without confirmation nothing else will be sent to this address."),
            _("The item:") + "\n" + links.absolute(links.item_path(item.id)),
            "-- \n" + _("To remove your address now:") + "\n" + links.absolute(links.unsubscribe_path(token)),
        ]) + "\n"
    finally:
        i18n.deactivate(lang_token)
    outbox.add(s, email, subject, body)


@dataclass(frozen=True)
class FollowView:
    """What the confirm and unsubscribe pages show. Never the address: the link may have been forwarded."""

    id: int
    plan_item_id: int | None
    data_request_id: int | None
    title: str
    confirmed_at: datetime | None


def _find(s: Session, token: str) -> m.Follow | None:
    signed = links.split_signed(token)
    if signed is not None:
        follow = s.get(m.Follow, signed[0])
        if follow is None or not links.signature_matches(follow.id, follow.token_hash, signed[1]):
            return None
        return follow
    if not 20 <= len(token) <= 100:
        return None
    return s.scalar(select(m.Follow).where(m.Follow.token_hash == links.hash_token(token)))


def _title(s: Session, follow: m.Follow) -> str:
    if follow.plan_item_id is not None:
        return s.scalar(select(m.PlanItem.title).where(m.PlanItem.id == follow.plan_item_id)) or ""
    return s.scalar(select(m.DataRequest.title).where(m.DataRequest.id == follow.data_request_id)) or ""


def find(db: Database, token: str) -> FollowView:
    """The follow a confirm or unsubscribe link points at; NotFound when the link is unknown or used up."""
    with db.read() as s:
        follow = _find(s, token)
        if follow is None:
            raise NotFound(_("This link is not valid any more: the address may have been removed already."))
        return FollowView(follow.id, follow.plan_item_id, follow.data_request_id, _title(s, follow), follow.confirmed_at)


def confirm(db: Database, token: str) -> FollowView:
    """Confirm a follow (idempotent). Only the raw token of the confirmation e-mail confirms."""
    if links.split_signed(token) is not None:
        raise NotFound(_("This link is not valid any more: the address may have been removed already."))
    with db.write() as s:
        follow = _find(s, token)
        if follow is None:
            raise NotFound(_("This link is not valid any more: the address may have been removed already."))
        if follow.confirmed_at is None:
            follow.confirmed_at = clock.now()
        return FollowView(follow.id, follow.plan_item_id, follow.data_request_id, _title(s, follow), follow.confirmed_at)


def unsubscribe(db: Database, token: str) -> FollowView:
    """Delete the follow (and so the address) a link points at."""
    with db.write() as s:
        follow = _find(s, token)
        if follow is None:
            raise NotFound(_("This link is not valid any more: the address may have been removed already."))
        view = FollowView(follow.id, follow.plan_item_id, follow.data_request_id, _title(s, follow), follow.confirmed_at)
        s.execute(delete(m.Follow).where(m.Follow.id == follow.id))
        return view


# --- cookie follows ---------------------------------------------------------------------------------------


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
