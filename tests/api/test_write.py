"""Plan answers through the API with per-institution tokens: same rules as the forms, JSON errors, audit."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from idmx import clock
from idmx.api import controllers
from idmx.apitokens import services as tokens
from idmx.clock import now as utcnow
from idmx.db import models as m
from idmx.plans import policy
from tests.api.world import World, auth
from tests.plans.days import official_days

API = "/api/v1/plan-items"


def _post(client, item_id: int, action: str, body, token: str | None, **kwargs):
    headers = auth(token) if token else {}
    return client.post(f"{API}/{item_id}/{action}", json=body, headers=headers, **kwargs)


def _events(db, item_id: int) -> list[m.PlanEvent]:
    with db.read() as s:
        return list(s.scalars(select(m.PlanEvent).where(m.PlanEvent.plan_item_id == item_id).order_by(m.PlanEvent.id)))


def _audit(db, action: str) -> list[m.AuditEvent]:
    with db.read() as s:
        return list(s.scalars(select(m.AuditEvent).where(m.AuditEvent.action == action).order_by(m.AuditEvent.id)))


def _fields(r) -> list[str | None]:
    assert r.headers["content-type"].startswith("application/json"), r.text
    return [e["field"] for e in r.json()["errors"]]


def test_commit_stores_answer_history_and_audit_naming_the_token(client, db, world: World):
    due = policy.next_business_day(clock.today() + timedelta(days=20), official_days())
    r = _post(client, world.plan["aire"], "commit", {"due_date": due.isoformat()}, world.token)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["item"]["status"] == "committed" and body["item"]["due_date"] == due.isoformat()
    assert body["history"][-1]["kind"] == "committed" and r.headers["cache-control"] == "no-store"
    events = _events(db, world.plan["aire"])
    assert [e.kind for e in events] == ["created", "committed"] and events[-1].actor_id is None
    (plan_audit,) = [a for a in _audit(db, "plan_item.committed") if a.object_id == world.plan["aire"]]
    assert plan_audit.actor_id is None
    (use,) = _audit(db, "api_token.use")
    assert use.object_type == "api_token" and use.object_id == world.token_id
    assert use.after == {"token": "Catálogo SEMARNAT", "plan_item_id": world.plan["aire"], "action": "commit",
                         "event": "committed"}
    assert use.institution_id == world.inst["SEMARNAT"]
    with db.read() as s:
        assert s.get(m.ApiToken, world.token_id).last_used_at is not None


def test_every_answer_follows_the_state_machine(client, db, world: World):
    item = world.plan["aire"]
    basis = client.get("/api/v1/legal-bases").json()["items"][0]["code"]
    r = _post(client, item, "publish", {"url": "ftp://datos.gob.mx/aire"}, world.token)
    assert r.status_code == 422 and _fields(r) == ["url"]
    r = _post(client, item, "deny", {"legal_basis": "no-such-basis", "explanation": "No existe"}, world.token)
    assert r.status_code == 422 and _fields(r) == ["legal_basis"]
    r = _post(client, item, "deny", {"legal_basis": basis, "explanation": "   "}, world.token)
    assert r.status_code == 422 and _fields(r) == ["explanation"]
    assert [e.kind for e in _events(db, item)] == ["created"]  # nothing stored by refused answers
    r = _post(client, item, "deny", {"legal_basis": basis, "explanation": "No existe la fuente"}, world.token)
    assert r.status_code == 200 and r.json()["item"]["status"] == "denied"
    assert r.json()["item"]["legal_basis"]["code"] == basis
    r = _post(client, item, "publish", {"url": "https://datos.gob.mx/aire"}, world.token)
    assert r.status_code == 409 and _fields(r) == ["status"]
    r = _post(client, item, "reopen", {"note": "Se encontró la fuente"}, world.token)
    assert r.status_code == 200 and r.json()["item"]["status"] == "pending"
    r = _post(client, item, "reopen", {}, world.token)
    assert r.status_code == 409 and _fields(r) == ["status"]
    r = _post(client, item, "publish", {"url": "https://datos.gob.mx/aire", "catalogue_id": "aire-01"}, world.token)
    assert r.status_code == 200 and r.json()["item"]["status"] == "published_on_time"
    assert r.json()["item"]["published_url"] == "https://datos.gob.mx/aire"
    kinds = [e.kind for e in _events(db, item)]
    assert kinds == ["created", "denied", "reopened", "published"]
    assert len(_audit(db, "api_token.use")) == 3
    history = client.get(f"/api/v1/plan-items/{item}").json()["history"]
    assert [h["kind"] for h in history] == kinds and history[2]["details"]["note"] == "Se encontró la fuente"


def test_late_due_date_needs_a_justification(client, db, world: World):
    with db.read() as s:
        policy_due = s.get(m.PlanItem, world.plan["aire"]).policy_due
    late = policy.next_business_day(policy_due + timedelta(days=10), official_days()).isoformat()
    r = _post(client, world.plan["aire"], "commit", {"due_date": late}, world.token)
    assert r.status_code == 422 and _fields(r) == ["justification"]
    r = _post(client, world.plan["aire"], "commit", {"due_date": late, "justification": "Falta presupuesto"}, world.token)
    assert r.status_code == 200 and r.json()["item"]["late_justification"] == "Falta presupuesto"
    past = (clock.today() - timedelta(days=1)).isoformat()
    r = _post(client, world.plan["aire"], "commit", {"due_date": past}, world.token)
    assert r.status_code == 422 and _fields(r) == ["due_date"]


def test_malformed_bodies_name_the_field(client, db, world: World):
    item = world.plan["aire"]
    for body, field in (({"due_date": 5}, "due_date"), ({"due_date": "mañana"}, "due_date"), ({}, "due_date"),
                        ({"due_date": "2030-01-01", "justification": 3}, "justification")):
        r = _post(client, item, "commit", body, world.token)
        assert r.status_code == 400 and _fields(r) == [field], (body, r.text)
    r = _post(client, item, "publish", {"url": "https://x.mx/" + "a" * 2100}, world.token)
    assert r.status_code == 400 and _fields(r) == ["url"]
    r = client.post(f"{API}/{item}/commit", content=b"{not json", headers=auth(world.token))
    assert r.status_code == 400 and r.json()["errors"]
    assert [e.kind for e in _events(db, item)] == ["created"]


def test_tokens_are_scoped_to_their_institution(client, db, world: World):
    due = policy.next_business_day(clock.today() + timedelta(days=5), official_days()).isoformat()
    r = _post(client, world.plan["censo"], "commit", {"due_date": due}, world.token)  # INEGI's item, SEMARNAT token
    assert r.status_code == 404 and r.json()["status_code"] == 404
    assert _post(client, 999999, "commit", {"due_date": due}, world.token).status_code == 404
    r = _post(client, world.plan["censo"], "commit", {"due_date": due}, world.other_token)
    assert r.status_code == 200
    assert [e.kind for e in _events(db, world.plan["censo"])] == ["created", "committed"]


def test_missing_unknown_and_revoked_tokens_get_401(client, db, world: World):
    body = {"due_date": policy.next_business_day(clock.today() + timedelta(days=5), official_days()).isoformat()}
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"},
                    {"Authorization": "Bearer idmx_unknown"}, {"Authorization": "Bearer " + world.token + "x"}):
        r = client.post(f"{API}/{world.plan['aire']}/commit", json=body, headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"].startswith("Bearer") and r.json()["errors"]
    with db.write() as s:
        tokens.revoke(s, world.token_id, actor_id=None)
    assert _post(client, world.plan["aire"], "commit", body, world.token).status_code == 401
    assert [e.kind for e in _events(db, world.plan["aire"])] == ["created"]
    (revoked,) = _audit(db, "api_token.revoke")
    assert revoked.object_id == world.token_id


def test_only_the_token_hash_is_stored(db, world: World):
    with db.read() as s:
        stored = s.scalar(select(m.ApiToken).where(m.ApiToken.id == world.token_id))
    assert stored.token_hash == tokens.hash_token(world.token) and world.token not in str(vars(stored))


def test_writes_are_rate_limited_per_token(client, world: World, monkeypatch):
    monkeypatch.setattr(controllers, "WRITES_PER_HOUR", 2)
    body = {"due_date": policy.next_business_day(clock.today() + timedelta(days=5), official_days()).isoformat()}
    assert _post(client, world.plan["aire"], "commit", body, world.token).status_code == 200
    assert _post(client, world.plan["aire"], "commit", body, world.token).status_code == 200
    r = _post(client, world.plan["aire"], "commit", body, world.token)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0 and r.json()["status_code"] == 429
    # Another institution's token has its own counter.
    assert _post(client, world.plan["censo"], "commit", body, world.other_token).status_code == 200


def test_last_used_is_not_touched_by_refused_requests(client, db, world: World):
    _post(client, world.plan["aire"], "commit", {"due_date": "2000-01-01"}, world.token)
    with db.read() as s:
        assert s.get(m.ApiToken, world.token_id).last_used_at is None
    assert utcnow()  # the clock the stored timestamps use


def test_reopening_gives_the_editions_time_to_answer(client, db, world: World):
    """A reopened denial gets the answer window of the edition that listed the item; an item outside
    editions gets the default."""
    with db.write() as s:
        s.get(m.Edition, world.edition_id).answer_business_days = 45
    today = clock.local_date(utcnow())
    r = _post(client, world.plan["suelo"], "reopen", {"note": "Se revisará"}, world.token)
    assert r.status_code == 200
    basis = client.get("/api/v1/legal-bases").json()["items"][0]["code"]
    assert _post(client, world.plan["propio"], "deny", {"legal_basis": basis, "explanation": "No existe"},
                 world.token).status_code == 200
    assert _post(client, world.plan["propio"], "reopen", {}, world.token).status_code == 200
    with db.read() as s:
        assert s.get(m.PlanItem, world.plan["suelo"]).answer_by == policy.add_business_days(today, 45)
        assert s.get(m.PlanItem, world.plan["propio"]).answer_by == policy.add_business_days(today, policy.DEFAULT_ANSWER_DAYS)
