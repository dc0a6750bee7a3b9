"""Staff users: creation, sign-in checks, password changes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import func, select

from idmx.accounts.passwords import (
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from idmx.audit import record
from idmx.db import Database
from idmx.db import models as m
from idmx.errors import DomainError


@dataclass(frozen=True)
class StaffPrincipal:
    """The signed-in staff member as the guards and services need them."""

    id: int
    email: str
    role: m.Role
    institution_id: int | None
    institution_acronym: str | None
    session_epoch: int = 0

    @property
    def is_central(self) -> bool:
        return self.role == m.Role.central_admin

    def can_see_institution(self, institution_id: int | None) -> bool:
        return self.is_central or (institution_id is not None and institution_id == self.institution_id)


def load_principal(db: Database, user_id: int) -> StaffPrincipal | None:
    with db.read() as s:
        row = s.execute(
            select(m.StaffUser, m.Institution.acronym)
            .outerjoin(m.Institution, m.Institution.id == m.StaffUser.institution_id)
            .where(m.StaffUser.id == user_id, m.StaffUser.is_active.is_(True))
        ).first()
    if row is None:
        return None
    user, acronym = row
    return StaffPrincipal(user.id, user.email, user.role, user.institution_id, acronym, user.session_epoch)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(db: Database, email: str, password: str, role: m.Role, institution_acronym: str | None) -> int:
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise DomainError(f"not an e-mail address: {email!r}", field="email")
    problem = password_problem(password)
    if problem:
        raise DomainError(problem, field="password")
    with db.write() as s:
        institution_id = None
        if role != m.Role.central_admin:
            if not institution_acronym:
                raise DomainError("institution staff need --institution ACRONYM", field="institution")
            institution_id = s.scalar(select(m.Institution.id).where(func.upper(m.Institution.acronym) == institution_acronym.upper()))
            if institution_id is None:
                raise DomainError(f"no institution with acronym {institution_acronym!r}", field="institution")
        elif institution_acronym:
            raise DomainError("central administrators belong to no institution", field="institution")
        if s.scalar(select(m.StaffUser.id).where(m.StaffUser.email == email)) is not None:
            raise DomainError(f"a staff user with e-mail {email} already exists", field="email")
        user = m.StaffUser(email=email, password_hash=hash_password(password), role=role, institution_id=institution_id)
        s.add(user)
        s.flush()
        record(s, actor_id=None, action="staff.create", obj=("staff_user", user.id), institution_id=institution_id,
               after={"email": email, "role": role.value, "institution_id": institution_id})
        return user.id


# `idmx serve --demo` (development only): one account per staff role, for trying the staff side at once.
DEMO_STAFF = (
    (m.Role.central_admin, "central@demo.idmx.mx", None),
    (m.Role.institution_admin, "admin.semarnat@demo.idmx.mx", "SEMARNAT"),
    (m.Role.institution_moderator, "moderacion.semarnat@demo.idmx.mx", "SEMARNAT"),
)


def demo_sign_ins(db: Database) -> list[tuple[m.Role, str, str]]:
    """Create the demo staff accounts, or give them fresh passwords: (role, e-mail, password) each.
    The passwords are new on every call, so none is ever written down anywhere but the terminal."""
    out = []
    for role, email, acronym in DEMO_STAFF:
        password = secrets.token_urlsafe(12)
        with db.write() as s:
            user = s.scalar(select(m.StaffUser).where(m.StaffUser.email == email))
            if user is not None:
                user.password_hash = hash_password(password)
                user.session_epoch += 1
        if user is None:
            create_user(db, email, password, role, acronym)
        out.append((role, email, password))
    return out


def authenticate(db: Database, email: str, password: str) -> int | None:
    """The user's id when the password is right and the account active; None otherwise."""
    with db.read() as s:
        user = s.scalar(select(m.StaffUser).where(m.StaffUser.email == normalise_email(email)))
    stored = user.password_hash if user is not None and user.is_active else None
    if not verify_password(stored, password):
        return None
    assert user is not None
    if needs_rehash(user.password_hash):
        with db.write() as s:
            s.get(m.StaffUser, user.id).password_hash = hash_password(password)  # type: ignore[union-attr]
    return user.id


def session_epoch(db: Database, user_id: int) -> int:
    with db.read() as s:
        return int(s.scalar(select(m.StaffUser.session_epoch).where(m.StaffUser.id == user_id)) or 0)


def end_sessions(db: Database, user_id: int) -> int:
    """End every session of the user ("sign out everywhere"); returns the epoch a new session starts with."""
    with db.write() as s:
        user = s.get(m.StaffUser, user_id)
        if user is None:
            return 0
        user.session_epoch += 1
        record(s, actor_id=user_id, action="staff.sign_out_everywhere", obj=("staff_user", user_id),
               institution_id=user.institution_id)
        return user.session_epoch


def change_password(db: Database, user_id: int, current: str, new: str) -> dict[str, str]:
    """Change the password and end every session of the user (the caller starts a new one for the
    browser that made the change). Returns the errors per field, empty when it was changed."""
    from idmx.i18n import gettext as _

    errors: dict[str, str] = {}
    with db.write() as s:
        user = s.get(m.StaffUser, user_id)
        if user is None or not verify_password(user.password_hash, current):
            errors["current"] = _("The current password is not right.")
        problem = password_problem(new)
        if problem:
            errors["new"] = problem
        if errors:
            return errors
        user.password_hash = hash_password(new)
        user.session_epoch += 1
        record(s, actor_id=user_id, action="staff.password_change", obj=("staff_user", user_id),
               institution_id=user.institution_id)
    return errors
