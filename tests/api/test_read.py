"""Public reads of /api/v1 over HTTP, on SQLite and PostgreSQL: content, pagination, filters, caching, privacy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from idmx import clock
from idmx.db import models as m
from idmx.plans import policy
from idmx.plans import services as items
from tests.api.world import OTHER, OWN, RESPONDENT_MARK, SECRET, World
from tests.plans.days import official_days

API = "/api/v1"

PUBLIC_LISTS = [
    "/consultations", "/consultations/en-vivo/proposals", "/consultations/cerrada/proposals",
    "/consultations/al-cierre/proposals", "/consultations/cerrada/runs", "/editions", "/institutions",
    "/institutions/SEMARNAT/plan", "/plan-items", "/compliance", "/legal-bases",
]


def _get(client, path: str, **kwargs):
    return client.get(API + path, **kwargs)


def test_consultations_only_published_with_phase_and_institution_filters(client, world: World):
    body = _get(client, "/consultations").json()
    assert {c["slug"] for c in body["items"]} == {"en-vivo", "al-cierre", "cerrada", "proxima"}
    assert body["total"] == 4 and body["page"] == 1 and body["per_page"] == 20
    phases = {c["slug"]: c["phase"] for c in body["items"]}
    assert phases == {"en-vivo": "open", "al-cierre": "open", "cerrada": "closed", "proxima": "upcoming"}
    visible = {c["slug"]: c["results_visible"] for c in body["items"]}
    assert visible == {"en-vivo": True, "al-cierre": False, "cerrada": True, "proxima": False}
    assert {c["slug"] for c in _get(client, "/consultations?phase=open").json()["items"]} == {"en-vivo", "al-cierre"}
    assert [c["slug"] for c in _get(client, "/consultations?phase=closed").json()["items"]] == ["cerrada"]
    assert [c["slug"] for c in _get(client, "/consultations?institution=inegi").json()["items"]] == ["proxima"]
    detail = _get(client, "/consultations/en-vivo").json()
    assert detail["institution"]["acronym"] == OWN and detail["proposals"] == 4
    assert _get(client, "/consultations/borrador").status_code == 404
    assert _get(client, "/consultations/borrador/proposals").status_code == 404
    assert _get(client, "/consultations/no-existe").status_code == 404


def test_pagination_totals_links_and_bounds(client, world: World):
    r = _get(client, "/institutions?per_page=2&page=2&level=federal")
    body = r.json()
    assert body["page"] == 2 and body["per_page"] == 2 and len(body["items"]) == 2
    assert body["next"] == f"{API}/institutions?level=federal&page=3&per_page=2"
    assert body["prev"] == f"{API}/institutions?level=federal&page=1&per_page=2"
    last = -(-body["total"] // 2)
    link = r.headers["link"]
    for rel in ("first", "prev", "next", "last"):
        assert f'rel="{rel}"' in link
    assert f"page={last}&per_page=2>; rel=\"last\"" in link
    # Walking every page yields every row once.
    seen, url = [], f"{API}/institutions?per_page=100"
    while url:
        page = client.get(url).json()
        seen += [i["acronym"] for i in page["items"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == _get(client, "/institutions").json()["total"]
    beyond = _get(client, "/institutions?page=999").json()
    assert beyond["items"] == [] and beyond["next"] is None
    for bad, field in (("per_page=101", "per_page"), ("per_page=0", "per_page"), ("page=0", "page"),
                       ("page=abc", "page"), ("phase=later", "phase")):
        r = _get(client, f"/consultations?{bad}")
        assert r.status_code == 400, bad
        assert r.headers["content-type"].startswith("application/json")
        assert [e["field"] for e in r.json()["errors"]] == [field], r.json()


def test_proposals_never_hidden_or_pending_and_counts_only_when_visible(client, world: World):
    live = _get(client, "/consultations/en-vivo/proposals").json()
    assert [p["id"] for p in live["items"]] == world.proposals["en-vivo"]
    assert all(p["counts"] is not None and p["counts"]["votes"] >= 0 for p in live["items"])
    assert sum(p["counts"]["votes"] for p in live["items"]) > 0
    hidden = _get(client, "/consultations/al-cierre/proposals").json()
    assert [p["id"] for p in hidden["items"]] == world.proposals["al-cierre"]
    assert all(p["counts"] is None for p in hidden["items"])
    closed = _get(client, "/consultations/cerrada/proposals?per_page=2").json()
    assert closed["total"] == 4 and len(closed["items"]) == 2 and closed["items"][0]["counts"] is not None
    assert _get(client, f"/consultations/en-vivo/proposals?institution={OTHER}").json()["total"] == 0
    assert _get(client, "/consultations/en-vivo/proposals?topic=environment").json()["total"] in (0, 4)


def test_runs_only_when_results_are_visible(client, world: World):
    runs = _get(client, "/consultations/cerrada/runs").json()
    assert [r["id"] for r in runs["items"]] == [world.run_id]
    r = client.get(runs["items"][0]["url"])
    run = r.json()
    assert run["fingerprint"] and len(run["fingerprint"]) == 64 and run["params"]["method"] == "approval"
    assert run["summary"] and {row["proposal_id"] for row in run["results"]} <= set(world.proposals["cerrada"])
    assert all(row["title"] for row in run["results"])
    assert r.headers["cache-control"] == "public, max-age=3600" and "last-modified" in r.headers
    assert _get(client, "/consultations/al-cierre/runs").status_code == 404
    assert _get(client, f"/consultations/al-cierre/runs/{world.run_id}").status_code == 404
    assert _get(client, f"/consultations/en-vivo/runs/{world.run_id}").status_code == 404  # another consultation's run
    assert _get(client, "/consultations/borrador/runs").status_code == 404


def test_editions_published_only_with_items_filters_and_public_status(client, world: World):
    editions = _get(client, "/editions").json()
    assert [e["id"] for e in editions["items"]] == [world.edition_id]
    detail = _get(client, f"/editions/{world.edition_id}").json()
    assert [t["tier"] for t in detail["tiers"]] == [1, 2, 3] and detail["runs"][0]["consultation"] == "cerrada"
    assert _get(client, f"/editions/{world.draft_edition_id}").status_code == 404
    assert _get(client, f"/editions/{world.draft_edition_id}/items").status_code == 404
    items_ = _get(client, f"/editions/{world.edition_id}/items").json()["items"]
    assert [i["rank"] for i in items_] == [1, 2, 3, 4]
    assert [i["status"] for i in items_] == ["pending", "committed", "denied", "pending"]
    assert all(i["policy_due"] for i in items_)
    assert [i["rank"] for i in _get(client, f"/editions/{world.edition_id}/items?tier=2").json()["items"]] == [3, 4]
    assert [i["rank"] for i in _get(client, f"/editions/{world.edition_id}/items?institution={OTHER}").json()["items"]] == [4]
    filtered = _get(client, f"/editions/{world.edition_id}/items?status=committed&per_page=1").json()
    assert filtered["total"] == 1 and filtered["items"][0]["title"] == "Datos de agua por municipio"
    assert _get(client, f"/editions/{world.edition_id}/items?tier=10").status_code == 400


def test_plans_public_status_history_and_institution_scope(client, world: World, db):
    plan = _get(client, f"/institutions/{OWN.lower()}/plan").json()
    assert {i["id"] for i in plan["items"]} == {world.plan[k] for k in ("aire", "agua", "suelo", "propio")}
    assert {i["status"] for i in _get(client, f"/institutions/{OWN}/plan?status=denied").json()["items"]} == {"denied"}
    assert [i["id"] for i in _get(client, f"/institutions/{OWN}/plan?source=own").json()["items"]] == [world.plan["propio"]]
    assert _get(client, "/institutions/NOEXISTE/plan").status_code == 404
    everything = _get(client, "/plan-items?per_page=100").json()
    assert everything["total"] == 5
    assert _get(client, f"/plan-items?institution={OTHER}").json()["total"] == 1
    denied = _get(client, f"/plan-items/{world.plan['suelo']}").json()
    assert denied["item"]["status"] == "denied" and denied["item"]["legal_basis"]["code"]
    assert denied["item"]["denial_explanation"] == "No existe la información"
    assert [e["kind"] for e in denied["history"]] == ["created", "denied"]
    assert [e["to_status"] for e in denied["history"]] == ["pending", "denied"]
    assert denied["history"][0]["at"] == clock.today().isoformat()
    assert denied["editions"][0]["edition_id"] == world.edition_id
    assert all("actor" not in str(e) for e in denied["history"])
    assert _get(client, "/plan-items/999999").status_code == 404
    # Overdue is derived from today's date: a committed item whose date passed reads "overdue".
    with db.write() as s:
        item = s.get(m.PlanItem, world.plan["agua"])
        item.due_date = clock.today() - timedelta(days=1)
    assert _get(client, f"/plan-items/{world.plan['agua']}").json()["item"]["status"] == "overdue"


def test_compliance_counts_per_institution_and_status(client, world: World):
    body = _get(client, "/compliance").json()
    per = {row["institution"]["acronym"]: row["counts"] for row in body["institutions"]}
    assert per[OWN]["total"] == 4 and per[OWN]["denied"] == 1 and per[OWN]["committed"] == 1
    assert per[OWN]["due"] == 1 and per[OWN]["delivery_rate"] == 0.0  # the denial is due and not delivered
    assert per[OTHER]["pending"] == 1 and per[OTHER]["delivery_rate"] is None
    national = body["national"]
    assert national["total"] == 5 and national["pending"] == 3
    # Institutions with something due come first (idmx.plans.compliance's order).
    assert [r["institution"]["acronym"] for r in body["institutions"]] == [OWN, OTHER]
    assert [r["institution"]["acronym"] for r in _get(client, f"/compliance?institution={OTHER}").json()["institutions"]] == [OTHER]
    assert _get(client, "/compliance?level=state").json()["institutions"] == []
    assert _get(client, "/compliance?institution=NOEXISTE").status_code == 404
    # Same rule as the public status of each item.
    with_status = _get(client, "/plan-items?per_page=100").json()["items"]
    for status in ("pending", "unanswered", "committed", "overdue", "published_on_time", "published_late", "denied"):
        assert national[status] == sum(1 for i in with_status if i["status"] == status)


@pytest.mark.parametrize("path", PUBLIC_LISTS + ["/consultations/cerrada", "/institutions/INEGI"])
def test_etag_304_and_cache_headers(client, world: World, path):
    r = _get(client, path)
    assert r.status_code == 200, r.text
    etag = r.headers["etag"]
    assert etag.startswith('"') and r.headers["cache-control"].startswith("public, max-age=")
    assert r.headers["access-control-allow-origin"] == "*"
    again = _get(client, path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert _get(client, path, headers={"If-None-Match": '"other"'}).status_code == 200
    assert _get(client, path, headers={"If-None-Match": f'W/{etag}, "x"'}).status_code == 304


def test_etag_changes_with_content_and_last_modified(client, world: World, db):
    path = f"/plan-items/{world.plan['aire']}"
    first = _get(client, path)
    assert "last-modified" in first.headers
    lm = first.headers["last-modified"]
    assert _get(client, path, headers={"If-Modified-Since": lm}).status_code == 304
    with db.write() as s:
        item = s.get(m.PlanItem, world.plan["aire"])
        items.apply_move(s, item, lambda a: policy.commit(a, policy.next_business_day(clock.today() + timedelta(days=5), official_days()), clock.today()), actor_id=None)
    second = _get(client, path, headers={"If-None-Match": first.headers["etag"]})
    assert second.status_code == 200 and second.headers["etag"] != first.headers["etag"]


def test_no_hidden_draft_or_respondent_data_anywhere(client, world: World, db):
    with db.read() as s:
        token_hashes = list(s.scalars(select(m.ApiToken.token_hash))) + list(s.scalars(select(m.Respondent.token_hash)))
    paths = PUBLIC_LISTS + [
        "/consultations/en-vivo", f"/consultations/cerrada/runs/{world.run_id}", f"/editions/{world.edition_id}",
        f"/editions/{world.edition_id}/items", *(f"/plan-items/{i}" for i in world.plan.values()),
        "/consultations?per_page=100", "/plan-items?per_page=100",
    ]
    for path in paths:
        text = _get(client, path).text
        assert SECRET not in text, path
        assert RESPONDENT_MARK not in text, path
        assert "@" not in text, path  # no e-mail addresses (staff or followers)
        assert not any(h in text for h in token_hashes), path
        assert "author" not in text and "actor" not in text and "hidden_reason" not in text, path


def test_openapi_schema_documents_only_the_api_and_the_docs_page_is_local(client):
    schema = client.get("/api/docs/openapi.json").json()
    assert schema["paths"] and all(p.startswith("/api/v1/") for p in schema["paths"])
    assert "bearer" in schema["components"]["securitySchemes"]
    page = client.get("/api/docs")
    assert page.status_code == 200 and "/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js" in page.text
    assert "cdn." not in page.text and "unpkg" not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"):
        assert client.get(f"/static/vendor/swagger-ui-5.35.0/{asset}").status_code == 200
