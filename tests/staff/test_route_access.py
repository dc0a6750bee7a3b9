"""Every staff route x role x (own institution, other institution, anonymous).

The table below must name every route under /staff: a new staff route without an entry fails
`test_every_staff_route_has_an_entry`, so nobody adds one without deciding who may use it.
Expected outcomes:
- anonymous: redirect to the sign-in page;
- a role the route does not allow: 403;
- an institution role on another institution's object: 404 (ids cannot be probed);
- an allowed role on its own object (or the central team on anything): anything but 401/403/404/5xx
  (a page, a redirect after POST, or an in-place form error for the empty form the walk sends).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from litestar.testing import TestClient

from idmx import clock
from idmx.accounts.services import create_user
from idmx.clock import now as utcnow
from idmx.db import models as m
from idmx.plans import services as plan_items
from tests import factories
from tests.accounts.test_auth import PASSWORD, login

ALL = {"central_admin", "institution_admin", "institution_moderator"}
ADMINS = {"central_admin", "institution_admin"}
CENTRAL = {"central_admin"}
PUBLIC = None  # not a staff-only route

# route name -> roles allowed
EXPECTED: dict[str, set[str] | None] = {
    "accounts:login_form": PUBLIC,
    "accounts:login": PUBLIC,
    "accounts:logout": ALL,
    "accounts:password_form": ALL,
    "accounts:password": ALL,
    "accounts:end_sessions": ALL,
    "staff:dashboard": ALL,
    "moderation:index": ALL,
    "moderation:queue": ALL,
    "moderation:bulk": ALL,
    "moderation:duplicates": ALL,
    "moderation:flags": ALL,
    "moderation:merge": ALL,
    "moderation:proposal": ALL,
    "moderation:approve": ALL,
    "moderation:hide": ALL,
    "moderation:edit": ALL,
    "moderation:dismiss": ALL,
    "audit:list": CENTRAL,
    "staff_consultations:list": ALL,
    "staff_consultations:new": ADMINS,
    "staff_consultations:create": ADMINS,
    "staff_consultations:edit": ADMINS,
    "staff_consultations:update": ADMINS,
    "staff_consultations:publish": ADMINS,
    "staff_consultations:open": ADMINS,
    "staff_consultations:close": ADMINS,
    "staff_consultations:preview": ALL,
    "staff_consultations:fixed_list": ADMINS,
    "staff_consultations:load_text": ADMINS,
    "staff_consultations:load_csv": ADMINS,
    "staff_consultations:clone_form": ADMINS,
    "staff_consultations:clone": ADMINS,
    "plan:index": ADMINS,
    "plan:item": ADMINS,
    "plan:commit": ADMINS,
    "plan:publish": ADMINS,
    "plan:deny": ADMINS,
    "plan:reopen": ADMINS,
    "plan:reject": CENTRAL,
    "plan:new": ADMINS,
    "plan:create": ADMINS,
    "plan:consultations": ADMINS,
    "plan:add_proposal": ADMINS,
    "staff_requests:list": CENTRAL,
    "staff_requests:detail": CENTRAL,
    "staff_requests:route": CENTRAL,
    "staff_requests:reject": CENTRAL,
    "api_tokens:list": ADMINS,
    "api_tokens:create": ADMINS,
    "api_tokens:revoke": ADMINS,
    "institution_admin:list": CENTRAL,
    "institution_admin:create": CENTRAL,
    "institution_admin:successor": CENTRAL,
    "staff_editions:list": CENTRAL,
    "staff_editions:new": CENTRAL,
    "staff_editions:create": CENTRAL,
    "staff_editions:detail": CENTRAL,
    "staff_editions:settings": CENTRAL,
    "staff_editions:runs_form": CENTRAL,
    "staff_editions:runs": CENTRAL,
    "staff_editions:build": CENTRAL,
    "staff_editions:item": CENTRAL,
    "staff_editions:item_update": CENTRAL,
    "staff_editions:move": CENTRAL,
    "staff_editions:publish": CENTRAL,
    "staff_editions:revise": CENTRAL,
    "staff_editions:add_plan_item": CENTRAL,
    "staff_exports:index": CENTRAL,
    "calendar:index": CENTRAL,
    "calendar:add": CENTRAL,
    "calendar:delete": CENTRAL,
    "due:index": ADMINS,
}

USERS = {
    "central_admin": ("central@idmx.gob.mx", None),
    "institution_admin": ("admin@semarnat.gob.mx", "SEMARNAT"),
    "institution_moderator": ("mod@semarnat.gob.mx", "SEMARNAT"),
}


def staff_routes(app) -> list[tuple[str, str, str]]:
    """(method, path template, name) of every route under /staff."""
    found = []
    for route in app.routes:
        if not route.path.startswith("/staff"):
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods:
                if method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                    found.append((method, route.path, handler.name))
    return sorted(found)


def _world(db):
    """Two institutions, each with a consultation, a published and a pending proposal, a report."""
    now = utcnow()
    ids = {}
    with db.write() as s:
        for label, acronym in (("own", "SEMARNAT"), ("other", "INEGI")):
            inst = s.query(m.Institution).filter_by(acronym=acronym).one()
            c = m.Consultation(
                slug=f"walk-{label}", title_es=f"Consulta {label}", voting_method=m.VotingMethod.approval,
                proposal_mode=m.ProposalMode.moderated, status=m.ConsultationStatus.published,
                opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=5), institution_id=inst.id,
            )
            s.add(c)
            s.flush()
            p = m.Proposal(consultation_id=c.id, title=f"Calidad del aire {label}")
            q = m.Proposal(consultation_id=c.id, title=f"Calidad del agua {label}", status=m.ProposalStatus.pending)
            s.add_all([p, q])
            s.flush()
            report = m.ProposalReport(proposal_id=p.id, consultation_id=c.id, reason="Es un duplicado")
            request = m.DataRequest(kind=m.DataRequestKind.new_dataset, title=f"Solicitud {label}")
            s.add_all([report, request])
            s.flush()
            item = plan_items.create_item(s, institution_id=inst.id, source=m.PlanSource.own, title=f"Conjunto {label}",
                                     today=clock.local_date(now))
            ids[label] = {"consultation_id": c.id, "proposal_id": p.id, "report_id": report.id,
                          "request_id": request.id, "item_id": item.id, "plan_item_id": item.id}
    for label, values in ids.items():
        edition = factories.draft_edition(db, values["consultation_id"], values["proposal_id"], series=f"walk-{label}")
        values.update(edition_id=edition["edition_id"], edition_item_id=edition["item_id"])
    return ids


def _url(path: str, values: dict[str, int]) -> str:
    if path.startswith("/staff/editions"):  # there {item_id} is an edition's item, not a plan item
        values = {**values, "item_id": values["edition_item_id"]}
    for key, value in values.items():
        path = path.replace("{" + key + ":int}", str(value))
    assert "{" not in path, f"no test value for a parameter of {path}"
    return path


def test_every_staff_route_has_an_entry(app):
    names = {name for _, _, name in staff_routes(app)}
    missing = sorted(names - EXPECTED.keys())
    assert not missing, f"staff routes without an access entry in this test: {missing}"
    assert not sorted(EXPECTED.keys() - names), "entries for routes that no longer exist"


def _request(client: TestClient, method: str, url: str):
    token = client.cookies.get("idmx_csrf")
    if method == "GET":
        return client.get(url, follow_redirects=False)
    if url.endswith("/csv"):  # a multipart route: an empty upload, so the body parses and scope decides
        return client.post(url, data={"_csrf_token": token}, files={"file": ("empty.csv", b"", "text/csv")},
                           headers={"x-csrftoken": token}, follow_redirects=False)
    return client.post(url, data={"_csrf_token": token}, headers={"x-csrftoken": token}, follow_redirects=False)


def test_walk_every_staff_route_for_every_role_and_institution(app, db):
    for role, (email, acronym) in USERS.items():
        create_user(db, email, PASSWORD, m.Role(role), acronym)
    world = _world(db)
    routes = [r for r in staff_routes(app) if EXPECTED[r[2]] is not PUBLIC]
    # Sign-out last: it ends the session the other requests use (signing out everywhere, the very last).
    routes.sort(key=lambda r: (r[2] == "accounts:logout", r[2] == "accounts:end_sessions"))
    failures: list[str] = []

    with TestClient(app=app) as anonymous:
        anonymous.get("/staff/login")
        for method, path, name in routes:
            r = _request(anonymous, method, _url(path, world["own"]))
            if not (r.status_code == 303 and r.headers["location"].startswith("/staff/login")):
                failures.append(f"anonymous {method} {name}: {r.status_code}")

    for role, (email, _acronym) in USERS.items():
        with TestClient(app=app) as client:
            assert login(client, email).status_code == 303
            for method, path, name in routes:
                allowed = role in EXPECTED[name]  # type: ignore[operator]
                scopes = ("own", "other") if "{" in path else ("own",)
                for scope in scopes:
                    r = _request(client, method, _url(path, world[scope]))
                    code = r.status_code
                    if not allowed:
                        ok, want = code == 403, "403"
                    elif scope == "other" and role != "central_admin":
                        ok, want = code == 404, "404"
                    else:
                        ok, want = code < 500 and code not in (401, 403, 404), "allowed"
                    if not ok:
                        failures.append(f"{role} {scope} {method} {name}: {code} (expected {want})")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role", sorted(USERS))
def test_institution_staff_never_see_other_institutions_in_lists(app, db, role):
    email, acronym = USERS[role]
    create_user(db, email, PASSWORD, m.Role(role), acronym)
    _world(db)
    with TestClient(app=app) as client:
        login(client, email)
        for url in ("/staff", "/staff/consultations", "/staff/moderation"):
            html = client.get(url).text
            assert "Consulta own" in html
            assert ("Consulta other" in html) == (role == "central_admin"), url
