"""Respondent flows through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from idmx import clock
from idmx.consultations import services
from idmx.db import models as m
from idmx.web import respondents as identity
from tests import factories as f


def csrf(client) -> str:
    if not client.cookies.get("idmx_csrf"):
        client.get("/")
    return client.cookies.get("idmx_csrf")


def post_form(client, url: str, data: dict, *, htmx: bool = False, **kwargs):
    headers = {"HX-Request": "true", "x-csrftoken": csrf(client)} if htmx else {}
    return client.post(url, data={**data, "_csrf_token": csrf(client)}, headers=headers, follow_redirects=False, **kwargs)


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def approval(db):
    c = f.consultation(db)
    ids = f.proposals(db, c.id, f.TITLES)
    return c, ids


# --- browsing --------------------------------------------------------------------------------------


def test_consultation_page_lists_proposals_and_sets_an_anonymous_cookie(client, approval):
    c, ids = approval
    r = client.get(f"/c/{c.slug}/")
    assert r.status_code == 200
    for title in f.TITLES:
        assert title in r.text
    cookie = r.cookies.get(identity.COOKIE)
    assert cookie and len(cookie) >= 43  # 256 random bits, urlsafe base64
    set_cookie = r.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie


def test_only_the_token_hash_is_stored_and_exposures_are_recorded_for_returning_browsers(client, db, approval):
    c, ids = approval
    client.get(f"/c/{c.slug}/")  # first visit: cookie set, nothing recorded (crawlers never come back)
    assert f.rows(db, m.Exposure) == []
    client.get(f"/c/{c.slug}/")
    token = client.cookies.get(identity.COOKIE).split(".")[0]  # the random part; the rest is the signature
    respondents = f.rows(db, m.Respondent)
    assert len(respondents) == 1 and respondents[0].token_hash == identity.hash_token(token)
    assert token not in respondents[0].token_hash and respondents[0].participated_at is None
    assert sorted(e.proposal_id for e in f.rows(db, m.Exposure)) == sorted(ids)


def test_random_order_is_stable_per_respondent_and_differs_between_respondents(app, approval):
    from litestar.testing import TestClient

    c, ids = approval
    f.proposals(c and app.state.db, c.id, [f"Conjunto de datos número {i}" for i in range(40)])
    orders = []
    for _ in range(2):
        with TestClient(app=app) as one:
            first = one.get(f"/c/{c.slug}/").text
            again = one.get(f"/c/{c.slug}/").text
            page2 = one.get(f"/c/{c.slug}/?page=2").text
            titles = [line for line in first.split("\n") if "/proposals/" in line and "<h3>" in line]
            assert titles == [line for line in again.split("\n") if "/proposals/" in line and "<h3>" in line]
            assert not set(titles) & {line for line in page2.split("\n") if "/proposals/" in line and "<h3>" in line}
            orders.append(titles)
    assert orders[0] != orders[1]


def test_search_ignores_accents_and_case_and_filters_by_topic(client, db, approval):
    c, _ = approval
    r = client.get(f"/c/{c.slug}/", params={"q": "GASOLINA precios"})
    assert "Precios diarios de gasolina" in r.text and "Calidad del aire" not in r.text
    r = client.get(f"/c/{c.slug}/", params={"q": "estacion"})
    assert "Calidad del aire por estación" in r.text
    with db.read() as s:
        health = s.scalar(select(m.Topic.id).where(m.Topic.code == "health"))
    with db.write() as s:
        s.execute(m.Proposal.__table__.update().where(m.Proposal.title.like("Establecimientos%")).values(topic_id=health))
    r = client.get(f"/c/{c.slug}/", params={"topic": health})
    assert "Establecimientos de salud" in r.text and "Escuelas públicas" not in r.text


def test_htmx_filter_returns_only_the_list_fragment(client, approval):
    c, _ = approval
    r = client.get(f"/c/{c.slug}/", params={"q": "escuelas"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and r.text.lstrip().startswith('<div id="proposal-list"')
    # (and Accept-Encoding when compressed: idmx.web.compression)
    assert "Escuelas públicas" in r.text and "HX-Request" in r.headers["vary"].split(",")


# --- proposing ---------------------------------------------------------------------------------------


def test_propose_stores_the_proposal_and_its_author_supports_it(client, db, approval):
    c, _ = approval
    with db.read() as s:
        inst = s.scalar(select(m.Institution.id).where(m.Institution.acronym == "INEGI"))
    r = post_form(client, f"/c/{c.slug}/propose", {
        "title": "  Accidentes de tránsito   por municipio ", "description": "Por mes.", "institution": str(inst),
        "topic": "", "intended_use": "Planear rutas seguras", "website": "",
    })
    assert r.status_code == 303
    created = [p for p in f.rows(db, m.Proposal) if p.title.startswith("Accidentes")]
    assert len(created) == 1 and created[0].title == "Accidentes de tránsito por municipio"
    assert created[0].institution_id == inst and created[0].status == m.ProposalStatus.published
    assert r.headers["location"] == f"/c/{c.slug}/proposals/{created[0].id}?created=1"
    votes = f.rows(db, m.Vote)
    assert [(v.proposal_id, v.value) for v in votes] == [(created[0].id, 1)]
    page = client.get(r.headers["location"])
    assert "Tu propuesta está publicada" in page.text


def test_moderated_proposals_wait_and_are_visible_only_to_their_author(client, app, db):
    c = f.consultation(db, proposal_mode=m.ProposalMode.moderated)
    r = post_form(client, f"/c/{c.slug}/propose", {"title": "Padrón de beneficiarios", "institution": "unknown"})
    assert r.status_code == 303
    (p,) = f.rows(db, m.Proposal)
    assert p.status == m.ProposalStatus.pending
    assert "revise" in client.get(r.headers["location"]).text
    from litestar.testing import TestClient

    with TestClient(app=app) as stranger:
        assert stranger.get(f"/c/{c.slug}/proposals/{p.id}").status_code == 404
        assert "Padrón de beneficiarios" not in stranger.get(f"/c/{c.slug}/").text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "abc", "Escribe un título de al menos 5 caracteres."),
        ("title", "x" * 201, "Máximo 200 caracteres"),
        ("description", "x" * 4001, "Máximo 4000 caracteres"),
        ("intended_use", "x" * 1001, "Máximo 1000 caracteres"),
        ("institution", "999999", "Elige una institución de la lista"),
        ("institution", "abc", "Elige una institución de la lista"),
        ("topic", "-3", "Elige un tema de la lista."),
        ("website", "http://spam.example", "Si eres una persona, inténtalo de nuevo."),
    ],
)
def test_invalid_proposal_fields_get_a_message_in_place_and_store_nothing(client, db, approval, field, value, message):
    c, _ = approval
    before = len(f.rows(db, m.Proposal))
    data = {"title": "Datos válidos de prueba", "institution": "unknown", field: value}
    r = post_form(client, f"/c/{c.slug}/propose", data)
    assert r.status_code == 422
    assert message in r.text
    assert 'aria-invalid="true"' in r.text or field == "website"
    assert len(f.rows(db, m.Proposal)) == before and f.rows(db, m.Respondent) == []


def test_oversized_request_is_refused(client, approval):
    c, _ = approval
    r = post_form(client, f"/c/{c.slug}/propose", {"title": "x" * 1_100_000})
    assert r.status_code == 413


def test_fixed_list_consultations_refuse_new_proposals(client, db):
    c = f.consultation(db, proposal_mode=m.ProposalMode.fixed)
    r = post_form(client, f"/c/{c.slug}/propose", {"title": "Un conjunto nuevo", "institution": "unknown"})
    assert r.status_code == 409 and "lista fija" in r.text
    assert f.rows(db, m.Proposal) == []


def test_similar_proposals_understand_spanish(client, db, approval):
    c, _ = approval
    f.proposals(db, c.id, ["Datos municipales de calidad de aire"])
    r = client.get(f"/c/{c.slug}/similar", params={"title": "Calidad del aire por municipio"}, headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert "Datos municipales de calidad de aire" in r.text and "Apoyar esta en su lugar" in r.text
    assert "Escuelas" not in r.text


# --- voting -------------------------------------------------------------------------------------------


def test_approval_toggle_with_htmx_and_without(client, db, approval):
    c, ids = approval
    url = f"/c/{c.slug}/proposals/{ids[0]}/vote"
    r = post_form(client, url, {"support": "1"}, htmx=True)
    assert r.status_code == 200 and 'aria-pressed="true"' in r.text
    assert [(v.proposal_id, v.value) for v in f.rows(db, m.Vote)] == [(ids[0], 1)]
    assert [e.proposal_id for e in f.rows(db, m.Exposure)] == [ids[0]]
    r = post_form(client, url, {"support": "0", "next": f"/c/{c.slug}/?page=1"})
    assert r.status_code == 303 and r.headers["location"] == f"/c/{c.slug}/?page=1"
    assert f.rows(db, m.Vote) == [] and len(f.rows(db, m.Exposure)) == 1
    (respondent,) = f.rows(db, m.Respondent)
    assert respondent.participated_at is not None


def test_redirect_after_vote_stays_on_this_site(client, approval):
    c, ids = approval
    r = post_form(client, f"/c/{c.slug}/proposals/{ids[0]}/vote", {"support": "1", "next": "https://evil.example/"})
    assert r.headers["location"] == f"/c/{c.slug}"


def test_rating_replaces_the_earlier_one_and_refuses_out_of_range(client, db):
    c = f.consultation(db, voting_method=m.VotingMethod.rating)
    (pid,) = f.proposals(db, c.id, ["Presupuesto ejercido por programa"])
    url = f"/c/{c.slug}/proposals/{pid}/vote"
    assert post_form(client, url, {"value": "4"}).status_code == 303
    assert post_form(client, url, {"value": "2"}, htmx=True).status_code == 200
    assert [v.value for v in f.rows(db, m.Vote)] == [2]
    for bad in ("7", "0", "", "cinco"):
        r = post_form(client, url, {"value": bad})
        assert r.status_code == 400 and "del 1 al 5" in r.text
    assert [v.value for v in f.rows(db, m.Vote)] == [2]


def test_pairwise_choices_are_stored_and_the_pairing_prefers_few_comparisons(client, db):
    c = f.consultation(db, voting_method=m.VotingMethod.pairwise)
    ids = f.proposals(db, c.id, f.TITLES[:3])
    page = client.get(f"/c/{c.slug}/pair")
    assert page.status_code == 200 and "Elegir esta" in page.text
    r = post_form(client, f"/c/{c.slug}/pair", {"left": ids[0], "right": ids[1], "choice": "left"}, htmx=True)
    assert r.status_code == 200 and 'id="pair"' in r.text and "Has comparado 1 par." in r.text
    post_form(client, f"/c/{c.slug}/pair", {"left": ids[1], "right": ids[2], "choice": "none"})
    votes = sorted((v.left_id, v.right_id, v.winner_id) for v in f.rows(db, m.PairwiseVote))
    assert votes == sorted([(ids[0], ids[1], ids[0]), (ids[1], ids[2], None)])
    # The counts the pairing favours are recounted outside votes (by the worker), never by the vote itself.
    assert services.recount_comparisons(db, clock.now()) == 1
    with db.read() as s:
        assert services.comparison_counts(s, c.id) == {ids[0]: 1, ids[1]: 2, ids[2]: 1}
    # A proposal added now enters the pool at once (the pure pairing test measures the bias).
    (new,) = f.proposals(db, c.id, ["Concesiones de agua por cuenca"])
    shown = [client.get(f"/c/{c.slug}/pair").text for _ in range(12)]
    assert any(f'value="{new}"' in html for html in shown)
    bad = post_form(client, f"/c/{c.slug}/pair", {"left": ids[0], "right": ids[0], "choice": "left"})
    assert bad.status_code == 409 and len(f.rows(db, m.PairwiseVote)) == 2


@pytest.mark.parametrize("phase", ["closed", "upcoming"])
def test_writes_outside_the_voting_period_are_refused_and_store_nothing(client, db, phase):
    c = f.consultation(db, phase=phase)
    (pid,) = f.proposals(db, c.id, ["Calidad del agua en playas"])
    expected = "cerrada" if phase == "closed" else "todavía no abre"
    for url, data in [
        (f"/c/{c.slug}/proposals/{pid}/vote", {"support": "1"}),
        (f"/c/{c.slug}/propose", {"title": "Otra propuesta más", "institution": "unknown"}),
        (f"/c/{c.slug}/profile", {"segment": ""}),
    ]:
        r = post_form(client, url, data)
        assert r.status_code == 409, url
        assert expected in r.text and "No se guardó nada" in r.text
    assert f.rows(db, m.Vote) == [] and f.rows(db, m.Respondent) == [] and len(f.rows(db, m.Proposal)) == 1


def test_pairwise_writes_outside_the_period_are_refused(client, db):
    c = f.consultation(db, phase="closed", voting_method=m.VotingMethod.pairwise)
    a, b = f.proposals(db, c.id, f.TITLES[:2])
    r = post_form(client, f"/c/{c.slug}/pair", {"left": a, "right": b, "choice": "left"})
    assert r.status_code == 409 and f.rows(db, m.PairwiseVote) == []


@pytest.mark.parametrize("status", [m.ProposalStatus.hidden, m.ProposalStatus.pending])
def test_votes_on_hidden_or_pending_proposals_are_refused(client, db, approval, status):
    c, ids = approval
    with db.write() as s:
        s.execute(m.Proposal.__table__.update().where(m.Proposal.id == ids[0]).values(status=status))
    r = post_form(client, f"/c/{c.slug}/proposals/{ids[0]}/vote", {"support": "1"}, htmx=True)
    assert r.status_code == 409 and "No se guardó nada" in r.text
    assert f.rows(db, m.Vote) == []


def test_votes_on_merged_proposals_are_refused_with_a_pointer(client, db, approval):
    c, ids = approval
    with db.write() as s:
        s.execute(m.Proposal.__table__.update().where(m.Proposal.id == ids[1]).values(
            status=m.ProposalStatus.merged, merged_into_id=ids[0]))
    r = post_form(client, f"/c/{c.slug}/proposals/{ids[1]}/vote", {"support": "1"})
    assert r.status_code == 409 and "se fusionó" in r.text
    page = client.get(f"/c/{c.slug}/proposals/{ids[1]}")
    assert f"/c/{c.slug}/proposals/{ids[0]}" in page.text
    assert f.rows(db, m.Vote) == []


def test_refusals_are_translated(client, db):
    c = f.consultation(db, phase="closed")
    (pid,) = f.proposals(db, c.id, ["Calidad del agua en playas"])
    r = client.post(f"/c/{c.slug}/proposals/{pid}/vote", data={"support": "1", "_csrf_token": csrf(client)},
                    headers={"Accept-Language": "en"}, follow_redirects=False)
    assert r.status_code == 409 and "This consultation is closed. Nothing was saved." in r.text


def test_forms_without_csrf_token_are_refused(client, approval):
    c, ids = approval
    client.get("/")
    r = client.post(f"/c/{c.slug}/proposals/{ids[0]}/vote", data={"support": "1"}, follow_redirects=False)
    assert r.status_code == 403


@pytest.mark.anyio
async def test_twenty_concurrent_identical_votes_store_exactly_one(app, db, approval):
    c, ids = approval
    async with AsyncTestClient(app=app) as client:
        await client.get("/")
        await client.get(f"/c/{c.slug}/")
        token = client.cookies.get("idmx_csrf")
        url = f"/c/{c.slug}/proposals/{ids[2]}/vote"
        responses = await asyncio.gather(*[
            client.post(url, data={"support": "1", "_csrf_token": token}, headers={"HX-Request": "true", "x-csrftoken": token})
            for _ in range(20)
        ])
    assert [r.status_code for r in responses] == [200] * 20
    votes = f.rows(db, m.Vote)
    assert [(v.proposal_id, v.value) for v in votes] == [(ids[2], 1)]
    assert len(f.rows(db, m.Respondent)) == 1 and len(f.rows(db, m.Exposure)) == 1


# --- profile -------------------------------------------------------------------------------------------


def test_profile_can_be_skipped_saved_and_edited(client, db, approval):
    c, _ = approval
    r = post_form(client, f"/c/{c.slug}/profile", {"skip": "1"})
    assert r.status_code == 303 and f.rows(db, m.Respondent) == []
    with db.read() as s:
        seg = s.scalar(select(m.Segment.id).where(m.Segment.code == "journalists"))
        state = s.scalar(select(m.State.id).where(m.State.inegi_code == "20"))
    r = post_form(client, f"/c/{c.slug}/profile", {"segment": seg, "state": state, "use_purpose": "Reportajes"})
    assert r.status_code == 303
    (resp,) = f.rows(db, m.Respondent)
    assert (resp.segment_id, resp.state_id, resp.use_purpose) == (seg, state, "Reportajes")
    page = client.get(f"/c/{c.slug}/profile")
    assert f'value="{seg}" selected' in page.text
    post_form(client, f"/c/{c.slug}/profile", {"segment": "", "state": state})
    (resp,) = f.rows(db, m.Respondent)
    assert resp.segment_id is None  # "not stated" is a valid answer


def test_required_segment_is_enforced_on_the_form_and_on_votes(client, db):
    c = f.consultation(db, segment_required=True)
    (pid,) = f.proposals(db, c.id, ["Calidad del agua en playas"])
    r = post_form(client, f"/c/{c.slug}/profile", {"segment": ""})
    assert r.status_code == 422 and "pide a cada participante su sector" in r.text
    r = post_form(client, f"/c/{c.slug}/proposals/{pid}/vote", {"support": "1"})
    assert r.status_code == 409 and f.rows(db, m.Vote) == []
    with db.read() as s:
        seg = s.scalar(select(m.Segment.id).where(m.Segment.code == "academia"))
    post_form(client, f"/c/{c.slug}/profile", {"segment": seg})
    assert post_form(client, f"/c/{c.slug}/proposals/{pid}/vote", {"support": "1"}).status_code == 303
    assert len(f.rows(db, m.Vote)) == 1


def test_invalid_profile_values_are_refused_in_place(client, db, approval):
    c, _ = approval
    r = post_form(client, f"/c/{c.slug}/profile", {"segment": "99999", "organisation": "x" * 201})
    assert r.status_code == 422
    assert "Elige un sector de la lista." in r.text and "Máximo 200 caracteres" in r.text
    assert f.rows(db, m.Respondent) == []


# --- abuse ---------------------------------------------------------------------------------------------


def test_votes_are_rate_limited_per_respondent(settings, db, approval):
    from litestar.testing import TestClient

    from idmx.app import create_app

    c, ids = approval
    app = create_app(settings.with_(votes_per_hour=3), db=db)
    with TestClient(app=app) as client:
        client.get(f"/c/{c.slug}/")  # the respondent cookie: from now on the limit is per respondent
        codes = [post_form(client, f"/c/{c.slug}/proposals/{ids[i % 2]}/vote", {"support": "1"}).status_code for i in range(5)]
        assert codes[:3] == [303, 303, 303] and codes[3:] == [429, 429]
        assert "Demasiadas solicitudes" in post_form(client, f"/c/{c.slug}/proposals/{ids[0]}/vote", {"support": "1"}).text
    # Another respondent has their own allowance.
    with TestClient(app=app) as other:
        other.get(f"/c/{c.slug}/")
        assert post_form(other, f"/c/{c.slug}/proposals/{ids[0]}/vote", {"support": "1"}).status_code == 303


def test_proposals_are_rate_limited_per_client_address(settings, db, approval):
    from litestar.testing import TestClient

    from idmx.app import create_app

    c, _ = approval
    app = create_app(settings.with_(proposals_per_hour_per_ip=2), db=db)
    codes = []
    for i in range(3):
        with TestClient(app=app) as client:  # a new respondent each time, same address
            # Confirmed as different: alike titles would otherwise stop at the similar-proposals check.
            title = f"Propuesta número {i}"
            codes.append(post_form(client, f"/c/{c.slug}/propose",
                                   {"title": title, "institution": "unknown", "confirm": title}).status_code)
    assert codes == [303, 303, 429]
