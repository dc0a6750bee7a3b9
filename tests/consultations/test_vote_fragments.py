"""What an htmx vote answers besides the swapped control: the new support count and the outcome for the
page's live region, both out of band; and where focus goes after a pairwise choice. Through HTTP, on
SQLite and PostgreSQL. (The browser side: tests/e2e/test_mobile_and_keyboard.py.)"""

from __future__ import annotations

import re

from idmx.db import models as m
from tests import factories as f
from tests.consultations.test_participation import post_form


def _oob(html: str, element_id: str) -> str | None:
    """The text of the out-of-band element `element_id` in an htmx answer, or None."""
    match = re.search(rf'<(\w+) id="{element_id}" hx-swap-oob="innerHTML">(.*?)</\1>', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(2)).split()) if match else None


def test_support_answers_the_new_count_and_announces_it(client, db):
    c = f.consultation(db)  # live results
    pid = f.proposals(db, c.id, ["Calidad del aire por estación"])[0]
    client.get(f"/c/{c.slug}/")
    assert f'id="support-{pid}"' in client.get(f"/c/{c.slug}/").text  # the element the count replaces
    r = post_form(client, f"/c/{c.slug}/proposals/{pid}/vote", {"support": "1"}, htmx=True)
    assert r.status_code == 200 and 'aria-pressed="true"' in r.text
    assert _oob(r.text, f"support-{pid}") == "1 persona la apoya"
    assert _oob(r.text, "announcer") == "Apoyo guardado. 1 persona la apoya"
    r = post_form(client, f"/c/{c.slug}/proposals/{pid}/vote", {"support": "0"}, htmx=True)
    assert _oob(r.text, f"support-{pid}") == "0 personas la apoyan"
    assert _oob(r.text, "announcer") == "Apoyo retirado. 0 personas la apoyan"


def test_no_count_while_results_are_hidden(client, db):
    c = f.consultation(db, results_visibility=m.ResultsVisibility.after_close)
    pid = f.proposals(db, c.id, ["Calidad del aire por estación"])[0]
    assert f'id="support-{pid}"' not in client.get(f"/c/{c.slug}/").text
    r = post_form(client, f"/c/{c.slug}/proposals/{pid}/vote", {"support": "1"}, htmx=True)
    assert _oob(r.text, f"support-{pid}") is None and "persona" not in r.text
    assert _oob(r.text, "announcer") == "Apoyo guardado."


def test_a_rating_answers_the_new_average_and_keeps_ids_for_focus(client, db):
    c = f.consultation(db, voting_method=m.VotingMethod.rating)
    pid = f.proposals(db, c.id, ["Calidad del aire por estación"])[0]
    page = client.get(f"/c/{c.slug}/proposals/{pid}").text
    assert f'<dd id="support-{pid}">' in page
    r = post_form(client, f"/c/{c.slug}/proposals/{pid}/vote", {"value": "4"}, htmx=True)
    # htmx puts focus back on the radio button with the same id after the swap
    assert f'id="r{pid}-4" name="value" value="4" checked' in r.text
    assert _oob(r.text, f"support-{pid}") == "Calificación promedio: 4.0 (1 calificación)"
    assert _oob(r.text, "announcer").startswith("Calificación guardada: 4.")


def test_without_javascript_a_vote_still_redirects_back(client, db):
    c = f.consultation(db)
    pid = f.proposals(db, c.id, ["Calidad del aire por estación"])[0]
    r = post_form(client, f"/c/{c.slug}/proposals/{pid}/vote", {"support": "1", "next": f"/c/{c.slug}/"})
    assert r.status_code == 303 and r.headers["location"] == f"/c/{c.slug}/"


def test_a_pairwise_choice_marks_the_next_pairs_first_choice_for_focus(client, db):
    c = f.consultation(db, voting_method=m.VotingMethod.pairwise)
    ids = f.proposals(db, c.id, f.TITLES[:4])
    page = client.get(f"/c/{c.slug}/pair").text
    assert page.count("data-focus-after-swap") == 1 and 'id="announcer"' in page
    r = post_form(client, f"/c/{c.slug}/pair", {"left": ids[0], "right": ids[1], "choice": "left"}, htmx=True)
    first_choice = re.search(r'<button type="submit" name="choice" value="(\w+)"[^>]*data-focus-after-swap', r.text)
    assert first_choice and first_choice.group(1) == "left"
    assert _oob(r.text, "announcer") == "Guardado. Aquí está el siguiente par. Has comparado 1 par."
