"""Per-institution API tokens: created and revoked by institution admins (or the central team, or the CLI).

A token is shown once, when it is created; only its SHA-256 is stored. A revoked token stays in the
table (so the audit log can still name it) and never authenticates again.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from idmx import audit, clock
from idmx.accounts.services import StaffPrincipal
from idmx.db import Database
from idmx.db import models as m
from idmx.errors import DomainError, NotFound
from idmx.fields import form_int
from idmx.i18n import gettext as _

PREFIX = "idmx_"
NAME_MAX = 100


def generate() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenPrincipal:
    """Who writes through the API: a live token of one institution."""

    id: int
    name: str
    institution_id: int


@dataclass(frozen=True)
class TokenRow:
    id: int
    name: str
    institution: str
    created_at: datetime
    created_by: str | None
    last_used_at: datetime | None
    revoked_at: datetime | None


def clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise DomainError(_("Give the token a name, e.g. the system that will use it."), field="name")
    if len(name) > NAME_MAX:
        raise DomainError(_("The name is too long (100 characters at most)."), field="name")
    return name


def create(s: Session, *, institution_id: int, name: str, actor_id: int | None) -> tuple[m.ApiToken, str]:
    """Store a new token's hash and return the token itself, which is never retrievable again."""
    name = clean_name(name)
    token = generate()
    row = m.ApiToken(institution_id=institution_id, name=name, token_hash=hash_token(token), created_by=actor_id,
                     created_at=clock.now())
    s.add(row)
    s.flush()
    audit.record(s, actor_id=actor_id, action="api_token.create", obj=("api_token", row.id),
                 institution_id=institution_id, after={"name": name})
    return row, token


def revoke(s: Session, token_id: int, *, actor_id: int | None, institution_id: int | None = None) -> m.ApiToken:
    """Revoke a token; `institution_id` limits the search to one institution's tokens (others: not found)."""
    query = select(m.ApiToken).where(m.ApiToken.id == token_id)
    if institution_id is not None:
        query = query.where(m.ApiToken.institution_id == institution_id)
    row = s.scalar(query)
    if row is None:
        raise NotFound(_("There is no API token with this number."))
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        audit.record(s, actor_id=actor_id, action="api_token.revoke", obj=("api_token", row.id),
                     institution_id=row.institution_id, before={"name": row.name}, after={"revoked": True})
    return row


def authenticate(db: Database, token: str) -> TokenPrincipal | None:
    """The live token matching `token`, or None (unknown, malformed or revoked)."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    with db.read() as s:
        row = s.execute(
            select(m.ApiToken.id, m.ApiToken.name, m.ApiToken.institution_id)
            .where(m.ApiToken.token_hash == hash_token(token), m.ApiToken.revoked_at.is_(None))
        ).first()
    return TokenPrincipal(row.id, row.name, row.institution_id) if row else None


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    if not authorization:
        return None
    scheme, _sep, value = authorization.strip().partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def listing(db: Database, institution_id: int | None) -> list[TokenRow]:
    """Tokens of one institution (or of all, for the central team), newest first."""
    query = (
        select(m.ApiToken, m.Institution.acronym, m.StaffUser.email)
        .join(m.Institution, m.Institution.id == m.ApiToken.institution_id)
        .outerjoin(m.StaffUser, m.StaffUser.id == m.ApiToken.created_by)
        .order_by(m.ApiToken.created_at.desc(), m.ApiToken.id.desc())
    )
    if institution_id is not None:
        query = query.where(m.ApiToken.institution_id == institution_id)
    with db.read() as s:
        rows = s.execute(query).all()
    return [TokenRow(t.id, t.name, acronym, t.created_at, email, t.last_used_at, t.revoked_at) for t, acronym, email in rows]


# --- the staff page ------------------------------------------------------------------------------------------


def institution_choices(db: Database) -> list[tuple[int, str]]:
    with db.read() as s:
        return [(i, a) for i, a in s.execute(select(m.Institution.id, m.Institution.acronym).order_by(m.Institution.acronym))]


def create_for(db: Database, me: StaffPrincipal, form: dict[str, Any]) -> tuple[str, str]:
    """Create a token from the form; returns (token, institution acronym). Raises DomainError naming the field."""
    institution_id = form_int(form.get("institution")) if me.is_central else me.institution_id
    with db.write() as s:
        acronym = s.scalar(select(m.Institution.acronym).where(m.Institution.id == institution_id)) if institution_id else None
        if acronym is None:
            raise DomainError(_("Choose the institution the token acts for."), field="institution")
        assert institution_id is not None
        _row, token = create(s, institution_id=institution_id, name=str(form.get("name") or ""), actor_id=me.id)
    return token, acronym


def create_for_acronym(db: Database, acronym: str, name: str) -> tuple[int, str]:
    """The command line's token: for the institution with this acronym, created by nobody on staff."""
    with db.write() as s:
        institution_id = s.scalar(select(m.Institution.id).where(func.upper(m.Institution.acronym) == acronym.upper()))
        if institution_id is None:
            raise NotFound(_("There is no institution with this acronym.") + f" ({acronym})")
        row, secret = create(s, institution_id=institution_id, name=name, actor_id=None)
        return row.id, secret


def revoke_for(db: Database, me: StaffPrincipal, token_id: int) -> None:
    """Revoke a token of the staff member's institution (any institution's for the central team)."""
    with db.write() as s:
        revoke(s, token_id, actor_id=me.id, institution_id=None if me.is_central else me.institution_id)
