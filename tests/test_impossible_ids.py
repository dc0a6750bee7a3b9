"""An id in the path that no row can have is a 404 on every page, never a database error (500).

SQLite cannot bind an integer past 64 bits; PostgreSQL refuses one past its column's type (32-bit
ids for most tables)."""

from __future__ import annotations

import re

from litestar.testing import TestClient

from idmx.accounts.services import create_user
from idmx.db import models as m
from idmx.web import _BIGINT_PATH_IDS
from tests.accounts.test_auth import PASSWORD, login

INT_PARAM = re.compile(r"\{([a-z_]+):int\}")
HUGE = 99_999_999_999_999_999_999  # past 64 bits
PAST_INT4 = 2_147_483_648


def _int_routes(app) -> list[tuple[str, str, list[str]]]:
    found = []
    for route in app.routes:
        names = INT_PARAM.findall(route.path)
        if not names or route.path.startswith("/api/"):
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods & {"GET", "POST"}:
                found.append((method, route.path, names))
    return sorted(found)


def test_out_of_range_ids_are_not_found_everywhere(app, db):
    create_user(db, "central@idmx.gob.mx", PASSWORD, m.Role.central_admin, None)
    routes = _int_routes(app)
    assert len(routes) > 30  # the walk sees the app's routes, not an empty list
    failures = []
    with TestClient(app=app) as client:
        assert login(client, "central@idmx.gob.mx").status_code == 303  # staff pages reach the check too
        token = client.cookies.get("idmx_csrf")
        for method, path, names in routes:
            for value in (HUGE, PAST_INT4, -1):
                url = path
                for name in names:
                    bad = value if not (value == PAST_INT4 and name in _BIGINT_PATH_IDS) else HUGE
                    url = url.replace("{" + name + ":int}", str(bad))
                url = url.replace("{slug:str}", "demo").replace("{acronym:str}", "INEGI")
                if method == "GET":
                    r = client.get(url, follow_redirects=False)
                else:
                    r = client.post(url, data={"_csrf_token": token}, headers={"x-csrftoken": token},
                                    follow_redirects=False)
                if r.status_code != 404:
                    failures.append(f"{method} {url}: {r.status_code}")
    assert not failures, "\n".join(failures)
