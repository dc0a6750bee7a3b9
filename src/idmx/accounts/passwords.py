"""Password hashing with argon2id (argon2-cffi's defaults follow RFC 9106's second recommendation)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
MIN_LENGTH = 10
_dummy: str | None = None


def use_cheap_parameters() -> None:
    """For the test suite only: the same algorithm at a fraction of the cost (hashes record their
    parameters, so verification of existing hashes is unaffected)."""
    global _hasher, _dummy
    _hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    _dummy = None


def _dummy_hash() -> str:
    # Verifying against this when the account does not exist keeps the timing of "no such user" and
    # "wrong password" alike, so response times do not reveal which e-mail addresses have accounts.
    global _dummy
    if _dummy is None:
        _dummy = _hasher.hash("not-a-real-password-0123456789")
    return _dummy


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


def password_problem(password: str) -> str | None:
    """A reason to refuse a new password, or None. Kept simple and explained (NIST SP 800-63B)."""
    from idmx.i18n import gettext as _

    if len(password) < MIN_LENGTH:
        return _("Use at least %(n)s characters.") % {"n": MIN_LENGTH}
    if len(password) > 256:
        return _("Use at most 256 characters.")
    return None
