"""Who may use a staff route. Guards are plain functions; the allowed roles sit in the route's opt.

Every staff route declares `opt={"roles": ...}`; a route without it is refused to everybody, so a new
route cannot be forgotten open. The institution filter itself lives in the services (`scoped`), so
that guessing another institution's ids finds nothing (404), not a forbidden page that confirms
the id exists.
"""

from __future__ import annotations

from anyio import to_thread
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from idmx.accounts import sessions
from idmx.accounts.services import StaffPrincipal, load_principal
from idmx.enums import Role

ALL_STAFF = frozenset(Role)
ADMINS = frozenset({Role.central_admin, Role.institution_admin})
CENTRAL = frozenset({Role.central_admin})


async def staff_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    session = await sessions.load(connection)  # type: ignore[arg-type]
    principal = None
    if session is not None:
        db = connection.app.state.db
        principal = await to_thread.run_sync(load_principal, db, session.user_id)
        if principal is not None and principal.session_epoch != session.epoch:
            principal = None  # ended by a password change or "sign out everywhere"
    if principal is None:
        raise NotAuthorizedException("sign-in required")
    roles = handler.opt.get("roles")
    if not roles or principal.role not in roles:
        raise PermissionDeniedException("role not allowed")
    connection.state.principal = principal


def principal_of(connection: ASGIConnection) -> StaffPrincipal:
    return connection.state.principal
