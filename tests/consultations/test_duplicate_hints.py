"""Similar proposals before a proposal is saved, through HTTP on SQLite and PostgreSQL.

With JavaScript the hints come while typing (`GET /c/SLUG/similar`); without it, sending the form shows
the similar proposals first and saves nothing until the respondent supports one of them instead or
confirms theirs is different (the hidden field `confirm`). Both use `services.similar_proposals`.
"""

from __future__ import annotations

import html
import re

import pytest

from idmx.consultations import services
from idmx.db import models as m
from tests import factories as f
from tests.consultations.test_participation import csrf, post_form

GASOLINE = "Precios diarios de gasolina y diésel por estación de servicio"
FUEL = "Cuánto cuesta el combustible en cada gasolinera"
CRIME = "Incidencia delictiva por municipio"
CRIME_AGAIN = "Delitos denunciados cada mes en cada municipio"
HOSTILE = '<script>alert("x")</script> & "comillas"'


@pytest.fixture
def national(db):
    c = f.consultation(db, "nacional")
    ids = dict(zip([GASOLINE, CRIME, "Escuelas públicas con matrícula por grado"],
                   f.proposals(db, c.id, [GASOLINE, CRIME, "Escuelas públicas con matrícula por grado"]), strict=True))
    return c, ids


def hidden(text: str, name: str) -> list[str]:
    return [html.unescape(v) for v in re.findall(rf'<input type="hidden" name="{name}" value="([^"]*)"', text)]


def proposal_titles(db) -> list[str]:
    return [p.title for p in f.rows(db, m.Proposal)]


def test_the_hints_use_the_matchers_hint_mode(db, national):
    c, ids = national
    # An unfinished word is completed ("gasol" -> gasolina), as while typing.
    assert [h["id"] for h in services.similar_proposals(db, c.id, "precios de la gasol")] == [ids[GASOLINE]]
    assert [h["id"] for h in services.similar_proposals(db, c.id, FUEL)] == [ids[GASOLINE]]
    assert [h["id"] for h in services.similar_proposals(db, c.id, CRIME_AGAIN, finished=True)] == [ids[CRIME]]
    assert services.similar_proposals(db, c.id, "Mapa de ruido urbano por colonia", finished=True) == []
    assert services.similar_proposals(db, c.id, "ga") == []


def test_the_hint_fragment_carries_the_title_it_was_shown_for(client, national):
    c, ids = national
    r = client.get(f"/c/{c.slug}/similar", params={"title": "  precios de la   gasol"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and GASOLINE in r.text
    assert hidden(r.text, "confirm") == ["precios de la gasol"]
    r = client.get(f"/c/{c.slug}/similar", params={"title": "Mapa de ruido urbano"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and "confirm" not in r.text and r.text.strip() == ""


def test_without_javascript_similar_proposals_come_first_and_nothing_is_saved(client, db, national):
    c, ids = national
    data = {"title": f"  {FUEL} ", "description": HOSTILE, "institution": "unknown", "topic": "",
            "intended_use": "Comparar precios", "website": ""}
    r = post_form(client, f"/c/{c.slug}/propose", data)
    assert r.status_code == 200
    assert 'id="similar-check"' in r.text
    # The similar proposal, with a support form of its own that goes to it.
    item = re.search(rf'<li data-proposal="{ids[GASOLINE]}">(.*?)</li>', r.text, re.S)
    assert item and f'href="/c/{c.slug}/proposals/{ids[GASOLINE]}"' in item.group(1)
    assert f'action="/c/{c.slug}/proposals/{ids[GASOLINE]}/vote"' in item.group(1)
    assert 'name="support" value="1"' in item.group(1) and 'name="_csrf_token"' in item.group(1)
    assert f'data-proposal="{ids[CRIME]}"' not in r.text
    # The form comes back as written, escaped, with the title confirmed.
    assert "<script>alert" not in r.text and "&lt;script&gt;alert(" in r.text
    assert hidden(r.text, "confirm") == [FUEL]
    assert f'value="{FUEL}"' in r.text and "Comparar precios" in r.text
    proposal_form = r.text[r.text.index(f'action="/c/{c.slug}/propose"'):]
    assert 'name="_csrf_token"' in proposal_form[:proposal_form.index("</form>")]
    # Nothing saved: no proposal, no respondent, no vote.
    assert FUEL not in proposal_titles(db)
    assert f.rows(db, m.Respondent) == [] and f.rows(db, m.Vote) == []

    # Sent again with the confirmation: saved, and its author supports it.
    r = post_form(client, f"/c/{c.slug}/propose", {**data, "confirm": FUEL})
    assert r.status_code == 303 and r.headers["location"].endswith("?created=1")
    (created,) = [p for p in f.rows(db, m.Proposal) if p.title == FUEL]
    assert created.description == HOSTILE
    assert [(v.proposal_id, v.value) for v in f.rows(db, m.Vote)] == [(created.id, 1)]


def test_supporting_one_instead_from_the_check_page(client, db, national):
    c, ids = national
    r = post_form(client, f"/c/{c.slug}/propose", {"title": CRIME_AGAIN, "institution": "unknown"})
    item = re.search(rf'<li data-proposal="{ids[CRIME]}">(.*?)</li>', r.text, re.S)
    assert r.status_code == 200 and item
    (next_url,) = hidden(item.group(1), "next")
    assert next_url == f"/c/{c.slug}/proposals/{ids[CRIME]}"
    r = post_form(client, f"/c/{c.slug}/proposals/{ids[CRIME]}/vote", {"support": "1", "next": next_url})
    assert r.status_code == 303 and r.headers["location"] == next_url
    assert [(v.proposal_id, v.value) for v in f.rows(db, m.Vote)] == [(ids[CRIME], 1)]
    assert CRIME_AGAIN not in proposal_titles(db)


def test_a_confirmation_counts_only_for_its_own_title(client, db, national):
    c, ids = national
    # Confirmed for another title (the respondent changed it after the check): checked again.
    r = post_form(client, f"/c/{c.slug}/propose",
                  {"title": CRIME_AGAIN, "institution": "unknown", "confirm": "Delitos por municipio"})
    assert r.status_code == 200 and 'id="similar-check"' in r.text and hidden(r.text, "confirm") == [CRIME_AGAIN]
    # Spacing does not matter; a different title with nothing similar is saved at once.
    r = post_form(client, f"/c/{c.slug}/propose",
                  {"title": CRIME_AGAIN, "institution": "unknown", "confirm": f" {CRIME_AGAIN.replace(' ', '  ')} "})
    assert r.status_code == 303
    r = post_form(client, f"/c/{c.slug}/propose", {"title": "Mapa de ruido urbano por colonia", "institution": "unknown"})
    assert r.status_code == 303
    assert proposal_titles(db)[-2:] == [CRIME_AGAIN, "Mapa de ruido urbano por colonia"]


def test_a_confirmed_form_with_an_error_keeps_its_confirmation(client, db, national):
    c, _ = national
    r = post_form(client, f"/c/{c.slug}/propose",
                  {"title": FUEL, "institution": "unknown", "confirm": FUEL, "description": "x" * 4001})
    assert r.status_code == 422 and hidden(r.text, "confirm") == [FUEL] and 'id="similar-check"' not in r.text
    assert FUEL not in proposal_titles(db)


def test_the_confirmation_field_is_sent_once(client, db, national):
    c, _ = national
    body = {"title": FUEL, "institution": "unknown", "confirm": [FUEL, FUEL], "_csrf_token": csrf(client)}
    r = client.post(f"/c/{c.slug}/propose", data=body, follow_redirects=False)
    assert r.status_code == 400 and FUEL not in proposal_titles(db)


def test_pending_hidden_and_merged_proposals_are_not_suggested(client, db):
    c = f.consultation(db, "moderada", proposal_mode=m.ProposalMode.moderated)
    f.proposals(db, c.id, [GASOLINE], status=m.ProposalStatus.pending)
    f.proposals(db, c.id, [GASOLINE], status=m.ProposalStatus.hidden)
    r = post_form(client, f"/c/{c.slug}/propose", {"title": FUEL, "institution": "unknown"})
    assert r.status_code == 303


@pytest.mark.parametrize(("phase", "mode"), [("closed", m.ProposalMode.open), ("open", m.ProposalMode.fixed)])
def test_consultations_that_take_no_proposals_say_so_instead(client, db, phase, mode):
    c = f.consultation(db, "sin-propuestas", phase=phase, proposal_mode=mode)
    f.proposals(db, c.id, [GASOLINE])
    r = post_form(client, f"/c/{c.slug}/propose", {"title": FUEL, "institution": "unknown"})
    assert r.status_code == 409 and 'id="similar-check"' not in r.text


def test_without_quick_support_the_check_page_links_to_the_proposals(client, db):
    c = f.consultation(db, "calificacion", voting_method=m.VotingMethod.rating)
    (pid,) = f.proposals(db, c.id, [GASOLINE])
    r = post_form(client, f"/c/{c.slug}/propose", {"title": FUEL, "institution": "unknown"})
    assert r.status_code == 200 and f'href="/c/{c.slug}/proposals/{pid}"' in r.text
    assert f"/proposals/{pid}/vote" not in r.text
