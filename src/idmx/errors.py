"""Domain exceptions: a refused action with a message for the person who tried it.

Services raise these; `idmx.web.errors` renders them (an HTML page, an htmx fragment or a JSON error).
This module imports neither the web framework nor the database, so pure domain code can raise them too.
"""

from __future__ import annotations

__all__ = ["Busy", "Conflict", "DomainError", "NotFound"]


class DomainError(Exception):
    """A refused action with a message for the person who tried it; `field` names the input at fault."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class Conflict(DomainError):
    """The action is valid in general but not now (closed consultation, hidden proposal...)."""

    status_code = 409


class NotFound(DomainError):
    status_code = 404


class Busy(DomainError):
    """Too much of the same heavy work is under way: nothing was done; try again after ``retry_after`` seconds."""

    status_code = 503

    def __init__(self, message: str, *, retry_after: int = 30):
        super().__init__(message)
        self.retry_after = retry_after
