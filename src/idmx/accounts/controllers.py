"""Sign in, sign out, change password."""

from __future__ import annotations

from anyio import to_thread
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Template

from idmx.accounts import sessions
from idmx.accounts.guards import ALL_STAFF, principal_of, staff_guard
from idmx.accounts.services import authenticate, change_password, end_sessions, normalise_email, session_epoch
from idmx.db import Database
from idmx.fields import clean_text
from idmx.i18n import gettext as _
from idmx.settings import Settings
from idmx.web import FormData, page, see_other
from idmx.web.limits import account_key
from idmx.web.respondents import client_keys


def _safe_next(value: object) -> str:
    if isinstance(value, str) and value.startswith("/staff") and not value.startswith("//"):
        return value
    return "/staff"


class AccountController(Controller):
    path = "/staff"

    @get("/login", name="accounts:login_form")
    async def login_form(self, request: Request) -> Template:
        return page(request, "accounts/login.html", {"email": "", "error": "", "next": _safe_next(request.query_params.get("next"))})

    @post("/login", name="accounts:login")
    async def login(self, request: Request, data: FormData, db: NamedDependency[Database],
                    settings: NamedDependency[Settings]) -> Response:
        email = normalise_email(clean_text(data.get("email")))[:254]
        password = data.get("password") if isinstance(data.get("password"), str) else ""
        target = _safe_next(data.get("next"))
        limiter = request.app.state.limiter
        wait = await to_thread.run_sync(limiter.hit, "sign_in", {"account": account_key(email),
                                                                  "address": client_keys(request)[0]})
        if wait is not None:
            response = page(request, "accounts/login.html", {
                "email": email, "next": target,
                "error": _("Too many sign-in attempts. Wait a minute and try again."),
            }, status_code=429)
            response.headers["Retry-After"] = str(wait)
            return response
        user_id = await to_thread.run_sync(authenticate, db, email, password)
        if user_id is None:
            return page(request, "accounts/login.html", {
                "email": email, "next": target, "error": _("The e-mail or the password is not right."),
            }, status_code=400)
        response = see_other(target)
        epoch = await to_thread.run_sync(session_epoch, db, user_id)
        await sessions.start(request, response, user_id, secure=settings.production, epoch=epoch)
        return response

    @post("/logout", name="accounts:logout", guards=[staff_guard], opt={"roles": ALL_STAFF})
    async def logout(self, request: Request) -> Response:
        response = see_other("/staff/login")
        await sessions.end(request, response)
        return response

    @get("/password", name="accounts:password_form", guards=[staff_guard], opt={"roles": ALL_STAFF})
    async def password_form(self, request: Request) -> Template:
        return page(request, "accounts/password.html", {"errors": {}, "done": False, "me": principal_of(request)})

    @post("/password", name="accounts:password", guards=[staff_guard], opt={"roles": ALL_STAFF})
    async def password(self, request: Request, data: FormData, db: NamedDependency[Database],
                       settings: NamedDependency[Settings]) -> Template:
        me = principal_of(request)
        current = data.get("current") if isinstance(data.get("current"), str) else ""
        new = data.get("new") if isinstance(data.get("new"), str) else ""
        errors = await to_thread.run_sync(change_password, db, me.id, current, new)
        response = page(request, "accounts/password.html", {"errors": errors, "done": not errors, "me": me},
                        status_code=422 if errors else 200)
        if not errors:  # every other session ended with the change; this browser gets a new one
            epoch = await to_thread.run_sync(session_epoch, db, me.id)
            await sessions.start(request, response, me.id, secure=settings.production, epoch=epoch)
        return response

    @post("/sessions/end", name="accounts:end_sessions", guards=[staff_guard], opt={"roles": ALL_STAFF})
    async def end_sessions(self, request: Request, db: NamedDependency[Database]) -> Response:
        """Sign out everywhere: every session of this account, this one included."""
        await to_thread.run_sync(end_sessions, db, principal_of(request).id)
        response = see_other("/staff/login")
        await sessions.end(request, response)
        return response
