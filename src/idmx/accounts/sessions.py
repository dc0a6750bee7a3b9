"""Staff sessions: a random id in an HttpOnly cookie, the data in a server-side store.

Written here rather than with Litestar's session middleware because that middleware keeps the
session id it received: a cookie planted before login would survive it (session fixation). Here
login always deletes the old session and issues a new id.

A session remembers the user's ``session_epoch`` when it started; the guard refuses it once the epoch
has moved on (a password change or "sign out everywhere" raises it), whatever store holds it.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from litestar import Request, Response
from litestar.stores.base import Store

COOKIE = "idmx_staff"
LIFETIME_S = 8 * 3600


@dataclass(frozen=True)
class StaffSession:
    id: str
    user_id: int
    epoch: int = 0


def store_of(request: Request) -> Store:
    return request.app.stores.get("staff_sessions")


async def load(request: Request) -> StaffSession | None:
    sid = request.cookies.get(COOKIE)
    if not sid or len(sid) > 100:
        return None
    raw = await store_of(request).get(sid, renew_for=LIFETIME_S)
    if raw is None:
        return None
    data = json.loads(raw)
    return StaffSession(sid, int(data["user_id"]), int(data.get("epoch", 0)))


async def start(request: Request, response: Response, user_id: int, *, secure: bool, epoch: int = 0) -> None:
    """Forget whatever session the browser brought and issue a new id for the signed-in user."""
    store = store_of(request)
    old = request.cookies.get(COOKIE)
    if old:
        await store.delete(old)
    sid = secrets.token_urlsafe(32)
    await store.set(sid, json.dumps({"user_id": user_id, "epoch": epoch}), expires_in=LIFETIME_S)
    response.set_cookie(COOKIE, sid, max_age=LIFETIME_S, httponly=True, samesite="lax", secure=secure, path="/")


async def end(request: Request, response: Response) -> None:
    sid = request.cookies.get(COOKIE)
    if sid:
        await store_of(request).delete(sid)
    response.delete_cookie(COOKIE, path="/")
