"""IDMX list editions through HTTP, on SQLite and PostgreSQL: build, publish, immutability, revision, public pages.

Assertions use stable markup (ids, data attributes) and the database, not translated text.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, insert, select

from idmx import clock
from idmx.accounts.services import create_user
from idmx.db import models as m
from idmx.editions import forms as edition_forms
from idmx.editions import services as editions
from idmx.plans import policy
from idmx.ranking import services as runs
from tests import factories as f
from tests.accounts.test_auth import PASSWORD, login
from tests.consultations.test_participation import post_form
from tests.plans.days import official_days

BASE = "/staff/editions"
FUEL_STATION = "Precios diarios de gasolina por estación de servicio"
FUEL_OUTLET = "Precio de la gasolina en cada gasolinera"


@pytest.fixture
def staff(db):
    return {
        "central": create_user(db, "central@idmx.gob.mx", PASSWORD, m.Role.central_admin, None),
        "admin": create_user(db, "admin@semarnat.gob.mx", PASSWORD, m.Role.institution_admin, "SEMARNAT"),
    }


def _rated(db, slug: str, titles: list[str], institutions: list[str | None], institution: str | None = None) -> m.Consultation:
    """A closed rating consultation with six respondents who rated every proposal, and its stored run."""
    with db.read() as s:
        ids = dict(s.execute(select(m.Institution.acronym, m.Institution.id)).all())
    c = f.consultation(db, slug, phase="closed", voting_method=m.VotingMethod.rating,
                       institution_id=ids[institution] if institution else None)
    pids = [f.proposals(db, c.id, [t], institution_id=ids[a] if a else None)[0] for t, a in zip(titles, institutions)]
    with db.write() as s:
        rids = []
        for i in range(6):
            r = m.Respondent(consultation_id=c.id, token_hash=f"{slug[:8]:0>8}{i:056x}", segment_id=1 + i % 2)
            s.add(r)
            s.flush()
            rids.append(r.id)
        # Proposal j gets ratings around 5 - j: distinct, ordered scores.
        s.execute(insert(m.Vote), [
            {"consultation_id": c.id, "proposal_id": p, "respondent_id": r, "value": max(1, min(5, 5 - j + (i % 3) - 1))}
            for i, r in enumerate(rids) for j, p in enumerate(pids)
        ])
    runs.run_for_consultation(db, c.id)
    return c


@pytest.fixture
def world(db, staff):
    national = _rated(db, "nacional-2027", [
        "Calidad del aire por estación de monitoreo", FUEL_STATION, "Escuelas públicas con matrícula por grado",
    ], ["INECC", "CRE", None])
    own = _rated(db, "semarnat-2027", [FUEL_OUTLET, "Incidencia delictiva por municipio"], ["CRE", "SESNSP"],
                 institution="SEMARNAT")
    with db.read() as s:
        run_ids = {c.id: s.scalar(select(m.RankingRun.id).where(m.RankingRun.consultation_id == c.id)) for c in (national, own)}
        inst = dict(s.execute(select(m.Institution.acronym, m.Institution.id)).all())
    return {"national": national, "own": own, "runs": run_ids, "inst": inst}


def as_(client, email: str) -> None:
    assert login(client, email).status_code == 303


def new_edition(client, **overrides) -> int:
    data = {"series": "idmx-2027", "title_es": "IDMX 2027", "title_en": "IDMX 2027", "notes_es": "",
            "answer_business_days": "20", "tier1_business_days": "65", "tier1_up_to_rank": "2",
            "tier2_business_days": "130", "tier2_up_to_rank": "3", "tier3_business_days": "250", "tier3_up_to_rank": ""}
    data.update(overrides)
    r = post_form(client, BASE, data)
    assert r.status_code == 303, r.text
    return int(r.headers["location"].rsplit("/", 1)[1])


def choose_runs(client, edition_id: int, world, weights=(2, 1)) -> None:
    n, o = world["national"].id, world["own"].id
    r = post_form(client, f"{BASE}/{edition_id}/runs", {
        f"run_{n}": str(world["runs"][n]), f"weight_{n}": str(weights[0]),
        f"run_{o}": str(world["runs"][o]), f"weight_{o}": str(weights[1]),
    })
    assert r.status_code == 303, r.text


def items_of(db, edition_id: int) -> list[m.InfrastructureItem]:
    with db.read() as s:
        return list(s.scalars(select(m.InfrastructureItem).where(m.InfrastructureItem.edition_id == edition_id)
                              .order_by(m.InfrastructureItem.rank)))


def links_of(db, edition_id: int) -> dict[int, set[int]]:
    """Item key -> the titles' proposal ids."""
    with db.read() as s:
        rows = s.execute(select(m.InfrastructureItem.key, m.ItemProposal.proposal_id)
                         .join(m.ItemProposal, m.ItemProposal.item_id == m.InfrastructureItem.id)
                         .where(m.InfrastructureItem.edition_id == edition_id)).all()
    out: dict[int, set[int]] = {}
    for k, p in rows:
        out.setdefault(k, set()).add(p)
    return out


def edition_of(db, edition_id: int) -> m.Edition:
    with db.read() as s:
        return s.get(m.Edition, edition_id)


def by_title(items, title) -> m.InfrastructureItem:
    return next(i for i in items if i.title == title)


def build_and_fix(client, db, world) -> int:
    """A built draft whose every item has an institution (the schools item is given SEP)."""
    edition_id = new_edition(client)
    choose_runs(client, edition_id, world)
    assert post_form(client, f"{BASE}/{edition_id}/build", {}).status_code == 303
    schools = by_title(items_of(db, edition_id), "Escuelas públicas con matrícula por grado")
    r = post_form(client, f"{BASE}/{edition_id}/items/{schools.id}", {
        "title": schools.title, "description": "Matrícula por escuela", "institution": str(world["inst"]["SEP"]),
        "topic": "", "tier": str(schools.tier)})
    assert r.status_code == 303, r.text
    return edition_id


# --- access ------------------------------------------------------------------------------------------------


def test_institution_admin_is_refused_and_anonymous_sent_to_sign_in(client, db, staff):
    r = client.get(BASE, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/staff/login")
    as_(client, "admin@semarnat.gob.mx")
    assert client.get(BASE).status_code == 403
    assert client.get(f"{BASE}/new").status_code == 403
    assert post_form(client, BASE, {"series": "idmx-2027", "title_es": "IDMX"}).status_code == 403
    assert f.rows(db, m.Edition) == []


def test_staff_nav_links_the_list_for_the_central_team_only(client, db, staff):
    as_(client, "central@idmx.gob.mx")
    assert f'href="{BASE}"' in client.get("/staff").text or f'href="{BASE}/"' in client.get("/staff").text


# --- drafts --------------------------------------------------------------------------------------------------


def test_new_draft_form_has_policy_defaults_and_rejects_bad_input_in_place(client, db, staff):
    as_(client, "central@idmx.gob.mx")
    html = client.get(f"{BASE}/new").text
    for tier, days, up_to in policy.DEFAULT_TIERS:
        assert f'name="tier{tier}_business_days"' in html
        assert re.search(rf'id="tier{tier}_business_days"[^>]*value="{days}"', html)
    assert re.search(r'id="answer_business_days"[^>]*value="20"', html)
    r = post_form(client, BASE, {"series": "IDMX 2027!", "title_es": "", "answer_business_days": "0",
                                 "tier1_business_days": "65", "tier1_up_to_rank": "10", "tier2_business_days": "130",
                                 "tier2_up_to_rank": "5", "tier3_business_days": "999", "tier3_up_to_rank": ""})
    assert r.status_code == 422
    for name in ("series", "title_es", "answer_business_days", "tier2_up_to_rank", "tier3_business_days"):
        assert f'id="{name}-error"' in r.text, name
    assert f.rows(db, m.Edition) == []
    edition_id = new_edition(client)
    assert post_form(client, BASE, {"series": "idmx-2027", "title_es": "Otra", "answer_business_days": "20",
                                    "tier1_business_days": "65", "tier2_business_days": "130",
                                    "tier3_business_days": "250"}).status_code == 422
    e = edition_of(db, edition_id)
    assert (e.series, e.version, e.status, e.answer_business_days) == ("idmx-2027", 1, m.EditionStatus.draft, 20)
    with db.read() as s:
        tiers = s.execute(select(m.EditionTier.tier, m.EditionTier.business_days, m.EditionTier.up_to_rank)
                          .where(m.EditionTier.edition_id == edition_id).order_by(m.EditionTier.tier)).all()
    assert [tuple(t) for t in tiers] == [(1, 65, 2), (2, 130, 3), (3, 250, None)]
    assert any(a.action == "edition.create" for a in f.rows(db, m.AuditEvent))


def test_runs_form_lists_consultations_and_validates(client, db, world):
    as_(client, "central@idmx.gob.mx")
    edition_id = new_edition(client)
    html = client.get(f"{BASE}/{edition_id}/runs").text
    n = world["national"].id
    assert f'name="run_{n}"' in html and f'name="weight_{n}"' in html and f'value="{world["runs"][n]}"' in html
    r = post_form(client, f"{BASE}/{edition_id}/runs", {f"run_{n}": str(world["runs"][n]), f"weight_{n}": "0"})
    assert r.status_code == 422 and f'id="weight_{n}-error"' in r.text
    assert post_form(client, f"{BASE}/{edition_id}/runs", {}).status_code == 422
    # Another consultation's run under this consultation's field is refused.
    o = world["own"].id
    assert post_form(client, f"{BASE}/{edition_id}/runs", {f"run_{n}": str(world["runs"][o])}).status_code == 422
    assert f.rows(db, m.EditionRun) == []
    choose_runs(client, edition_id, world)
    assert {(r.ranking_run_id, r.weight) for r in f.rows(db, m.EditionRun)} == {
        (world["runs"][n], 2.0), (world["runs"][o], 1.0)}


# --- build, correct, publish -----------------------------------------------------------------------------------


def test_central_builds_corrects_and_publishes(client, db, world):
    as_(client, "central@idmx.gob.mx")
    edition_id = new_edition(client)
    choose_runs(client, edition_id, world)
    r = post_form(client, f"{BASE}/{edition_id}/build", {})
    assert r.status_code == 303 and "built=" in r.headers["location"]

    items = items_of(db, edition_id)
    # Five proposals, two of which ask for the same dataset (fuel prices) from different consultations.
    assert len(items) == 4
    assert sorted(i.key for i in items) == [1, 2, 3, 4]
    assert [i.rank for i in items] == [1, 2, 3, 4]
    assert [i.tier for i in items] == [1, 1, 2, 3]  # tiers up to rank 2, then 3, then the rest
    fuel = next(i for i in items if len(links_of(db, edition_id)[i.key]) == 2)
    assert fuel.institution_id == world["inst"]["CRE"]
    assert all(i.ci_low <= i.priority <= i.ci_high for i in items)
    with db.read() as s:
        fuel_links = s.scalars(select(m.ItemProposal).where(m.ItemProposal.item_id == fuel.id)).all()
    assert {link.ranking_run_id for link in fuel_links} == set(world["runs"].values())
    expected = (2 * fuel_links[0].score + fuel_links[1].score) / 3 if fuel_links[0].ranking_run_id == world["runs"][world["national"].id] \
        else (fuel_links[0].score + 2 * fuel_links[1].score) / 3
    assert fuel.priority == pytest.approx(expected)

    page = client.get(f"{BASE}/{edition_id}")
    assert page.status_code == 200 and f'id="item-{fuel.key}"' in page.text

    # Drafts do not exist for the public.
    assert client.get("/idmx/idmx-2027/v1").status_code == 404
    assert client.get("/idmx/idmx-2027", follow_redirects=False).status_code == 404
    assert "idmx-2027" not in client.get("/idmx").text

    # The schools item has no institution: publishing is refused in place and nothing changes.
    r = post_form(client, f"{BASE}/{edition_id}/publish", {})
    assert r.status_code == 422 and 'id="publish-problems"' in r.text
    assert edition_of(db, edition_id).status == m.EditionStatus.draft
    assert f.rows(db, m.PlanItem) == []

    # An invalid item edit is refused in place.
    schools = by_title(items, "Escuelas públicas con matrícula por grado")
    r = post_form(client, f"{BASE}/{edition_id}/items/{schools.id}", {"title": "x", "institution": "999999", "tier": "7"})
    assert r.status_code == 422
    for name in ("title", "institution", "tier"):
        assert f'id="{name}-error"' in r.text
    r = post_form(client, f"{BASE}/{edition_id}/items/{schools.id}", {
        "title": "Escuelas públicas y su matrícula", "description": "Por grado", "institution": str(world["inst"]["SEP"]),
        "topic": "", "tier": "2"})
    assert r.status_code == 303

    # Split a fuel proposal into its own item, then move it back.
    fuel_pids = sorted(links_of(db, edition_id)[fuel.key])
    r = post_form(client, f"{BASE}/{edition_id}/proposals/{fuel_pids[1]}/move", {"target": "new"})
    assert r.status_code == 303
    split = links_of(db, edition_id)
    assert split[fuel.key] == {fuel_pids[0]} and split[5] == {fuel_pids[1]}
    assert post_form(client, f"{BASE}/{edition_id}/proposals/{fuel_pids[1]}/move", {"target": str(fuel.key)}).status_code == 303
    assert links_of(db, edition_id)[fuel.key] == set(fuel_pids) and 5 not in links_of(db, edition_id)

    now = datetime.now(timezone.utc)
    r = post_form(client, f"{BASE}/{edition_id}/publish", {})
    assert r.status_code == 303, r.text
    e = edition_of(db, edition_id)
    assert e.status == m.EditionStatus.published and e.published_at is not None and e.published_by is not None
    items = items_of(db, edition_id)
    assert all(i.plan_item_id is not None for i in items)
    with db.read() as s:
        plans = {p.id: p for p in s.scalars(select(m.PlanItem))}
    assert len(plans) == 4
    today = clock.local_date(now)
    tiers = {1: 65, 2: 130, 3: 250}
    for item in items:
        plan = plans[item.plan_item_id]
        assert (plan.source, plan.institution_id, plan.title) == (m.PlanSource.idmx, item.institution_id, item.title)
        assert plan.assigned_on == today
        assert plan.answer_by == policy.add_business_days(today, 20, official_days())
        assert plan.policy_due == policy.add_business_days(today, tiers[item.tier], official_days())  # the seeded calendar
    actions = [a.action for a in f.rows(db, m.AuditEvent)]
    for action in ("edition.create", "edition.runs", "edition.build", "edition.item_update", "edition.move_proposal",
                   "edition.publish", "plan_item.create"):
        assert action in actions, action

    # The public pages.
    assert 'id="series-idmx-2027"' in client.get("/idmx").text
    r = client.get("/idmx/idmx-2027", follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == "/idmx/idmx-2027/v1"
    html = client.get("/idmx/idmx-2027/v1").text
    for item in items:
        assert f'href="/items/{item.plan_item_id}"' in html
    assert 'data-status="pending"' in html
    assert 'id="changes"' not in html
    assert client.get("/idmx/idmx-2027/v2").status_code == 404
    assert client.get("/idmx/idmx-2027/2").status_code == 404


def test_build_without_runs_is_refused(client, db, world):
    as_(client, "central@idmx.gob.mx")
    edition_id = new_edition(client)
    assert post_form(client, f"{BASE}/{edition_id}/build", {}).status_code == 409
    assert f.rows(db, m.InfrastructureItem) == []


def test_rebuild_keeps_staff_edits(client, db, world):
    as_(client, "central@idmx.gob.mx")
    edition_id = new_edition(client)
    choose_runs(client, edition_id, world)
    post_form(client, f"{BASE}/{edition_id}/build", {})
    before = items_of(db, edition_id)
    air = by_title(before, "Calidad del aire por estación de monitoreo")
    r = post_form(client, f"{BASE}/{edition_id}/items/{air.id}", {
        "title": "Calidad del aire, hora por hora", "description": "", "institution": str(world["inst"]["SEMARNAT"]),
        "topic": "", "tier": "3"})
    assert r.status_code == 303
    fuel_key = next(k for k, v in links_of(db, edition_id).items() if len(v) == 2)
    pid = sorted(links_of(db, edition_id)[fuel_key])[1]
    post_form(client, f"{BASE}/{edition_id}/proposals/{pid}/move", {"target": "new"})
    grouping = links_of(db, edition_id)
    assert post_form(client, f"{BASE}/{edition_id}/build", {}).status_code == 303
    after = {i.key: i for i in items_of(db, edition_id)}
    assert links_of(db, edition_id) == grouping  # the split stays split
    kept = after[air.key]
    assert (kept.title, kept.institution_id, kept.tier) == ("Calidad del aire, hora por hora", world["inst"]["SEMARNAT"], 3)
    # Changing the weights rebuilds at once, keeping the same items.
    choose_runs(client, edition_id, world, weights=(1, 3))
    assert links_of(db, edition_id) == grouping
    again = {i.key: i for i in items_of(db, edition_id)}
    assert (again[air.key].title, again[air.key].tier) == ("Calidad del aire, hora por hora", 3)
    assert sorted(i.rank for i in again.values()) == list(range(1, len(again) + 1))


# --- immutability and revision ------------------------------------------------------------------------------


def _snapshot(db, edition_id: int):
    e = edition_of(db, edition_id)
    items = [(i.key, i.title, i.institution_id, i.tier, i.rank, i.priority, i.plan_item_id) for i in items_of(db, edition_id)]
    with db.read() as s:
        tiers = s.execute(select(m.EditionTier.tier, m.EditionTier.business_days)
                          .where(m.EditionTier.edition_id == edition_id)).all()
        runs_ = s.execute(select(m.EditionRun.ranking_run_id, m.EditionRun.weight)
                          .where(m.EditionRun.edition_id == edition_id)).all()
    return (e.title_es, e.status, e.published_at, items, sorted(map(tuple, tiers)), sorted(map(tuple, runs_)),
            links_of(db, edition_id), len(f.rows(db, m.PlanItem)))


def test_a_published_edition_answers_409_to_every_change(client, db, world):
    as_(client, "central@idmx.gob.mx")
    edition_id = build_and_fix(client, db, world)
    assert post_form(client, f"{BASE}/{edition_id}/publish", {}).status_code == 303
    before = _snapshot(db, edition_id)
    item = items_of(db, edition_id)[0]
    pid = next(iter(links_of(db, edition_id)[item.key]))
    n = world["national"].id
    attempts = [
        (f"{BASE}/{edition_id}/settings", {"title_es": "Cambiado", "answer_business_days": "5"}),
        (f"{BASE}/{edition_id}/runs", {f"run_{n}": str(world["runs"][n]), f"weight_{n}": "5"}),
        (f"{BASE}/{edition_id}/build", {}),
        (f"{BASE}/{edition_id}/items/{item.id}", {"title": "Otro título cualquiera", "tier": "3"}),
        (f"{BASE}/{edition_id}/proposals/{pid}/move", {"target": "new"}),
        (f"{BASE}/{edition_id}/publish", {}),
    ]
    for url, data in attempts:
        r = post_form(client, url, data)
        assert r.status_code == 409, url
        assert editions.published_message() in r.text
    assert _snapshot(db, edition_id) == before
    # The staff page says so and offers the revision instead of the forms.
    html = client.get(f"{BASE}/{edition_id}").text
    assert 'id="revise-form"' in html and 'id="settings-form"' not in html and 'id="publish-form"' not in html


def test_revision_keeps_keys_reuses_plan_items_and_shows_the_changes(client, db, world):
    as_(client, "central@idmx.gob.mx")
    v1 = build_and_fix(client, db, world)
    assert post_form(client, f"{BASE}/{v1}/publish", {}).status_code == 303
    v1_items = {i.key: i for i in items_of(db, v1)}
    r = post_form(client, f"{BASE}/{v1}/revise", {})
    assert r.status_code == 303
    v2 = int(r.headers["location"].rsplit("/", 1)[1])
    assert v2 != v1
    # Asking again returns the same draft instead of a second one.
    assert post_form(client, f"{BASE}/{v1}/revise", {}).headers["location"].endswith(f"/{v2}")
    assert post_form(client, f"{BASE}/{v2}/revise", {}).status_code == 409  # a draft cannot be revised
    e2 = edition_of(db, v2)
    assert (e2.series, e2.version, e2.previous_id, e2.status) == ("idmx-2027", 2, v1, m.EditionStatus.draft)
    assert links_of(db, v2) == links_of(db, v1)
    assert {i.key: (i.title, i.tier, i.institution_id) for i in items_of(db, v2)} == {
        k: (i.title, i.tier, i.institution_id) for k, i in v1_items.items()}
    assert client.get("/idmx/idmx-2027/v2").status_code == 404  # still a draft

    # Change a tier, and split a proposal into a new item (key = max key in the series + 1).
    top = items_of(db, v2)[0]
    r = post_form(client, f"{BASE}/{v2}/items/{top.id}", {"title": top.title, "description": top.description,
                                                          "institution": str(top.institution_id), "topic": "", "tier": "3"})
    assert r.status_code == 303
    fuel_key = next(k for k, v in links_of(db, v2).items() if len(v) == 2)
    moved = sorted(links_of(db, v2)[fuel_key])[1]
    assert post_form(client, f"{BASE}/{v2}/proposals/{moved}/move", {"target": "new"}).status_code == 303
    new_key = max(v1_items) + 1
    assert links_of(db, v2)[new_key] == {moved}
    r = post_form(client, f"{BASE}/{v2}/publish", {})
    assert r.status_code == 303, r.text

    v2_items = {i.key: i for i in items_of(db, v2)}
    for key, old in v1_items.items():
        assert v2_items[key].plan_item_id == old.plan_item_id  # the same plan answer continues
    assert v2_items[new_key].plan_item_id not in {i.plan_item_id for i in v1_items.values()}
    assert len(f.rows(db, m.PlanItem)) == len(v1_items) + 1
    assert len({i.plan_item_id for i in v2_items.values()}) == len(v2_items)

    # v1 is unchanged and points to the newer version; the series goes to v2; v2 shows the changes.
    assert {i.key: i.tier for i in items_of(db, v1)} == {k: i.tier for k, i in v1_items.items()}
    assert 'id="newer-version"' in client.get("/idmx/idmx-2027/v1").text
    assert client.get("/idmx/idmx-2027", follow_redirects=False).headers["location"] == "/idmx/idmx-2027/v2"
    html = client.get("/idmx/idmx-2027/v2").text
    assert 'id="changes"' in html
    added = re.search(r'<ul id="changes-added">(.*?)</ul>', html, re.DOTALL).group(1)
    assert f'data-key="{new_key}"' in added
    changed = re.search(r'<ul id="changes-changed">(.*?)</ul>', html, re.DOTALL).group(1)
    assert f'data-key="{top.key}" data-field="tier"' in changed
    listing = client.get("/idmx").text
    assert "/idmx/idmx-2027/v2" in listing and "/idmx/idmx-2027/v1" in listing
    # Only the latest version can be revised.
    assert post_form(client, f"{BASE}/{v1}/revise", {}).status_code == 409
    actions = [a.action for a in f.rows(db, m.AuditEvent)]
    assert "edition.revise" in actions


def test_publish_service_programmatically(db, world, staff):
    """The services alone build and publish an edition (what the end-to-end tests use)."""
    central = staff["central"]
    form = edition_forms.parse_edition({"series": "idmx-prog", "title_es": "IDMX programática", "answer_business_days": "20",
                                   **{f"tier{t}_business_days": str(d) for t, d, _ in policy.DEFAULT_TIERS},
                                   **{f"tier{t}_up_to_rank": str(u or "") for t, _, u in policy.DEFAULT_TIERS}},
                                  with_series=True)
    assert form.valid, form.errors
    edition_id = editions.create(db, central, form)
    editions.set_runs(db, central, edition_id, {run_id: 1.0 for run_id in world["runs"].values()})
    summary = editions.build(db, central, edition_id)
    assert summary.items == 4
    problems = editions.publish(db, central, edition_id, datetime.now(timezone.utc))
    assert len(problems) == 1  # the schools item has no institution
    view = editions.get(db, edition_id)
    for row in view.items:
        if row.item.institution_id is None:
            form = edition_forms.parse_item({"title": row.item.title, "institution": str(world["inst"]["SEP"]),
                                        "tier": str(row.item.tier)}, institutions=set(world["inst"].values()),
                                       topics=set(), tiers={1, 2, 3})
            editions.update_item(db, central, edition_id, row.item.id, form)
    assert editions.publish(db, central, edition_id, datetime.now(timezone.utc)) == []
    assert edition_of(db, edition_id).status == m.EditionStatus.published


def test_every_edition_route_is_central_only_and_never_fails_for_the_central_team(app, client, db, staff):
    """The walk of tests/staff/test_route_access.py, for these routes: 403 for institution staff; for the
    central team an empty form gives a page, a redirect or an in-place refusal, never 401/403/404/5xx."""
    from litestar.testing import TestClient

    c = f.consultation(db, "walk-editions")
    pid = f.proposals(db, c.id, ["Calidad del aire por estación"])[0]
    values = {**f.draft_edition(db, c.id, pid), "proposal_id": pid}
    from idmx.plans import services as plan_items

    with db.write() as s:
        values["plan_item_id"] = plan_items.create_item(
            s, institution_id=s.scalar(select(m.Institution.id).where(m.Institution.acronym == "SEMARNAT")),
            source=m.PlanSource.own, title="Conjunto propio", today=clock.local_date(datetime.now(timezone.utc))).id
    routes = sorted((method, route.path, handler.name) for route in app.routes if route.path.startswith(BASE)
                    for handler in getattr(route, "route_handlers", []) for method in handler.http_methods
                    if method in ("GET", "POST"))
    assert len(routes) == 14
    for email, allowed in (("admin@semarnat.gob.mx", False), ("central@idmx.gob.mx", True)):
        with TestClient(app=app) as session:
            as_(session, email)
            for method, path, name in sorted(routes, key=lambda r: r[2] == "staff_editions:publish"):
                url = path
                for key, value in values.items():
                    url = url.replace("{" + key + ":int}", str(value))
                if method == "GET":
                    code = session.get(url, follow_redirects=False).status_code
                else:
                    code = post_form(session, url, {}).status_code
                if allowed:
                    assert code < 500 and code not in (401, 403, 404), f"{method} {name}: {code}"
                else:
                    assert code == 403, f"{method} {name}: {code}"


def test_an_institutions_own_dataset_feeds_into_the_next_edition_and_keeps_its_answer(client, db, world, staff):
    from idmx.plans import services as plan_items

    with db.write() as s:
        own = plan_items.create_item(s, institution_id=world["inst"]["SEMARNAT"], source=m.PlanSource.own,
                                title="Inventario de humedales por cuenca", today=clock.local_date(datetime.now(timezone.utc)))
    as_(client, "central@idmx.gob.mx")
    edition_id = build_and_fix(client, db, world)
    page = client.get(f"{BASE}/{edition_id}")
    assert "Inventario de humedales por cuenca" in page.text and f'id="addition-{own.id}"' in page.text

    r = post_form(client, f"{BASE}/{edition_id}/additions/{own.id}", {})
    assert r.status_code == 303, r.text
    added = by_title(items_of(db, edition_id), "Inventario de humedales por cuenca")
    assert (added.plan_item_id, added.institution_id, added.tier) == (own.id, world["inst"]["SEMARNAT"], 3)
    assert f'id="addition-{own.id}"' not in client.get(f"{BASE}/{edition_id}").text  # offered once only
    assert post_form(client, f"{BASE}/{edition_id}/additions/{own.id}", {}).status_code == 404

    # A rebuild keeps it although no proposal backs it; publishing keeps its plan item (no second one).
    assert post_form(client, f"{BASE}/{edition_id}/build", {}).status_code == 303
    assert by_title(items_of(db, edition_id), "Inventario de humedales por cuenca").plan_item_id == own.id
    assert post_form(client, f"{BASE}/{edition_id}/publish", {}).status_code == 303
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(m.PlanItem)
                        .where(m.PlanItem.title == "Inventario de humedales por cuenca")) == 1
    assert post_form(client, f"{BASE}/{edition_id}/additions/{own.id}", {}).status_code == 409
