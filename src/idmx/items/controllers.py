"""Public plan-item pages and following them: by cookie (nothing stored) or by confirmed e-mail.

    GET  /items/{id}                      the item: what was asked, support, the answer, the full history
    POST /items/{id}/follow               follow (field ``email`` optional); rate-limited like proposals
    POST /items/{id}/unfollow             forget the item in this browser's cookie
    GET  /following                       the items this browser follows, with their status today
    GET|POST /follows/confirm/{token}     the confirmation link of the e-mail (the button confirms)
    GET|POST /follows/unsubscribe/{token} the link in every e-mail (the button deletes the address)

Links with a token never change anything on GET: mail scanners open links, people press buttons.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from idmx.db import Database
from idmx.fields import only_fields
from idmx.i18n import current as current_lang
from idmx.i18n import gettext as _
from idmx.items import forms, services
from idmx.settings import Settings
from idmx.web import VARY, FormData, page, safe_next, see_other, wants_fragment

FOLLOW_LIMIT = {"rate_limit": "proposal"}  # shares the proposals' per-respondent and per-address budget
COOKIE_MAX_AGE = 2 * 365 * 24 * 3600
# Pages whose address carries a token: never cached, never sent on as a referrer.
PRIVATE_HEADERS = {**VARY, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _followed(request: Request) -> list[int]:
    return forms.cookie_ids(request.cookies.get(forms.COOKIE))


def _set_follows(response: Response, value: str, settings: Settings) -> Response:
    if value:
        response.set_cookie(forms.COOKIE, value, max_age=COOKIE_MAX_AGE, httponly=True, samesite="lax",
                            secure=settings.production, path="/")
    else:
        response.delete_cookie(forms.COOKIE, path="/")
    return response


def _item_page(request: Request, db: Database, item_id: int, *, form: dict[str, Any] | None = None,
               status_code: int = 200) -> Template:
    context = {
        "p": services.item_page(db, item_id),
        "following": item_id in _followed(request),
        "followed": request.query_params.get("follow", ""),
        "form": form or {"email": "", "errors": {}},
    }
    return page(request, "items/item.html", context, fragment="items/_follow.html", status_code=status_code)


class PublicItemController(Controller):
    path = "/items"

    @get("/{plan_item_id:int}", name="items:detail", sync_to_thread=True)
    def detail(self, request: Request, plan_item_id: FromPath[int], db: NamedDependency[Database]) -> Template:
        return _item_page(request, db, plan_item_id)

    @post("/{plan_item_id:int}/follow", name="items:follow", sync_to_thread=True, opt=FOLLOW_LIMIT)
    def follow(
        self, request: Request, plan_item_id: FromPath[int], data: FormData, db: NamedDependency[Database],
        settings: NamedDependency[Settings],
    ) -> Response:
        data = only_fields(data, ("email", "website", "next"))
        raw = data.get("email", "").strip()
        outcome = "email" if raw else "browser"
        if data.get("website"):  # the honeypot: answer like a success, keep nothing
            services.item_exists(db, plan_item_id)
        elif raw:
            email = forms.normalise_email(raw)
            if email is None:
                form = {"email": raw[:300], "errors": {"email": _("Give an e-mail address like nombre@example.mx, or leave the field empty.")}}
                return _item_page(request, db, plan_item_id, form=form, status_code=422)
            services.follow_item(db, plan_item_id, email, current_lang())
        else:
            services.item_exists(db, plan_item_id)  # a cookie never names an item that does not exist
        value = forms.cookie_with(request.cookies.get(forms.COOKIE), plan_item_id)
        if wants_fragment(request):
            context = {"p": services.item_page(db, plan_item_id), "following": True, "followed": outcome,
                       "form": {"email": "", "errors": {}}}
            response: Response = page(request, "items/_follow.html", context, fragment="items/_follow.html")
        else:
            url = request.app.route_reverse("items:detail", plan_item_id=plan_item_id)
            response = see_other(f"{url}?follow={outcome}#follow")
        return _set_follows(response, value, settings)

    @post("/{plan_item_id:int}/unfollow", name="items:unfollow", sync_to_thread=True)
    def unfollow(
        self, request: Request, plan_item_id: FromPath[int], data: FormData, settings: NamedDependency[Settings],
    ) -> Response:
        value = forms.cookie_without(request.cookies.get(forms.COOKIE), plan_item_id)
        default = request.app.route_reverse("items:detail", plan_item_id=plan_item_id) + "#follow"
        return _set_follows(see_other(safe_next(data.get("next"), default)), value, settings)


class FollowController(Controller):
    @get("/following", name="follows:list", sync_to_thread=True)
    def following(self, request: Request, db: NamedDependency[Database]) -> Template:
        return page(request, "follows/following.html", {"rows": services.followed_items(db, _followed(request))})

    @get("/follows/confirm/{token:str}", name="follows:confirm_form", sync_to_thread=True)
    def confirm_form(self, token: FromPath[str], db: NamedDependency[Database]) -> Template:
        view = services.find(db, token)
        return Template("follows/confirm.html", context={"f": view, "token": token}, headers=PRIVATE_HEADERS)

    @post("/follows/confirm/{token:str}", name="follows:confirm", sync_to_thread=True)
    def confirm(self, request: Request, token: FromPath[str], db: NamedDependency[Database]) -> Response:
        services.confirm(db, token)
        return see_other(request.app.route_reverse("follows:confirm_form", token=token))

    @get("/follows/unsubscribe/{token:str}", name="follows:unsubscribe_form", sync_to_thread=True)
    def unsubscribe_form(self, token: FromPath[str], db: NamedDependency[Database]) -> Template:
        view = services.find(db, token)
        return Template("follows/unsubscribe.html", context={"f": view, "token": token}, headers=PRIVATE_HEADERS)

    @post("/follows/unsubscribe/{token:str}", name="follows:unsubscribe", sync_to_thread=True)
    def unsubscribe(self, request: Request, token: FromPath[str], db: NamedDependency[Database]) -> Response:
        view = services.unsubscribe(db, token)
        target = request.app.route_reverse("follows:unsubscribed")
        return see_other(f"{target}?item={view.plan_item_id}" if view.plan_item_id else target)

    @get("/follows/unsubscribed", name="follows:unsubscribed", sync_to_thread=True)
    def unsubscribed(self, request: Request) -> Template:
        item = request.query_params.get("item", "")
        return page(request, "follows/unsubscribed.html", {"item_id": int(item) if item.isdigit() else None})
