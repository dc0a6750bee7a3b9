"""Public plan-item pages and following them, through HTTP on SQLite and PostgreSQL.

Assertions use status codes, the database and stable markup (ids, data- attributes), plus the data the
page must show verbatim (titles, URLs, explanations). Translated labels are checked only where the
label itself is the requirement (the late justification shown as such).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from idmx import clock
from idmx.accounts.services import create_user
from idmx.clock import now as utcnow
from idmx.db import models as m
from idmx.items import forms as follow_forms
from idmx.items import services as follows
from idmx.plans import policy
from idmx.plans import services as items
from tests import factories as f
from tests.accounts.test_auth import PASSWORD
from tests.consultations.test_participation import csrf, post_form

STAFF_EMAIL = "enlace.datos@semarnat.gob.mx"
TODAY = clock.today()


def _id(db, model, **where) -> int:
    with db.read() as s:
        return s.scalar(select(model.id).filter_by(**where))


def make_item(db, title: str = "Calidad del aire por estación de monitoreo", *, source=m.PlanSource.own,
              policy_due=None, proposal_id: int | None = None, description: str = "Mediciones horarias") -> int:
    with db.write() as s:
        item = items.create_item(
            s, institution_id=_id(db, m.Institution, acronym="SEMARNAT"), source=source, title=title, today=TODAY,
            policy_due=policy_due, description=description, topic_id=None, proposal_id=proposal_id,
        )
        s.flush()
        return item.id


def apply(db, item_id: int, move, actor_id: int | None = None) -> None:
    with db.write() as s:
        items.apply_move(s, s.get(m.PlanItem, item_id), move, actor_id=actor_id)


def count(db, model) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(model))


def outbox(db) -> list[m.OutboxMessage]:
    with db.read() as s:
        return list(s.scalars(select(m.OutboxMessage).order_by(m.OutboxMessage.id)))


def follow_rows(db) -> list[m.Follow]:
    with db.read() as s:
        return list(s.scalars(select(m.Follow).order_by(m.Follow.id)))


@pytest.fixture
def staff_id(db) -> int:
    return create_user(db, STAFF_EMAIL, PASSWORD, m.Role.institution_admin, "SEMARNAT")


# --- the page -----------------------------------------------------------------------------------------------


def test_public_sees_the_answer_and_every_history_event(client, db, staff_id):
    policy_due = policy.add_business_days(TODAY, 60)
    late_due = policy.next_business_day(policy_due + timedelta(days=30))
    committed = make_item(db, "Calidad del aire por estación de monitoreo", policy_due=policy_due)
    apply(db, committed, lambda a: policy.commit(a, policy.next_business_day(policy_due - timedelta(days=5)), TODAY),
          staff_id)
    apply(db, committed, lambda a: policy.commit(a, late_due, TODAY, "Falta presupuesto para el sensor"), staff_id)

    published = make_item(db, "Precios diarios de gasolina por estación de servicio", policy_due=policy_due)
    apply(db, published, lambda a: policy.commit(a, policy_due, TODAY), staff_id)
    apply(db, published, lambda a: policy.publish(a, "https://datos.gob.mx/busca/dataset/gasolina", TODAY, "CAT-77"),
          staff_id)

    basis_id = _id(db, m.LegalBasis, code="nonexistent")
    denied = make_item(db, "Incidencia delictiva por municipio", policy_due=policy_due)
    apply(db, denied, lambda a: policy.deny(a, basis_id, "No se genera esta información"), staff_id)
    apply(db, denied, lambda a: policy.reopen(a, TODAY, 20, "Se revisará de nuevo"), staff_id)
    apply(db, denied, lambda a: policy.deny(a, basis_id, "Confirmado por el Comité de Transparencia"), staff_id)

    page = client.get(f"/items/{committed}")
    assert page.status_code == 200
    html = page.text
    assert [k for k in re.findall(r'data-event="([a-z_]+)"', html)] == ["created", "committed", "due_date_changed"]
    assert 'data-status="committed"' in html
    # The late date's reason is shown in its own, labelled, entry.
    late = html.split('class="late-justification"')[1].split("</div>")[0]
    assert "<dt>" in late and "Falta presupuesto para el sensor" in late
    assert late_due.isoformat() in html and policy_due.isoformat() in html
    assert "Mediciones horarias" in html and "SEMARNAT" in html

    html = client.get(f"/items/{published}").text
    assert re.findall(r'data-event="([a-z_]+)"', html) == ["created", "committed", "published"]
    assert 'data-status="published_on_time"' in html
    assert ('<a href="https://datos.gob.mx/busca/dataset/gasolina" rel="nofollow noopener" class="dataset-link">'
            in html)
    assert "CAT-77" in html

    html = client.get(f"/items/{denied}").text
    assert re.findall(r'data-event="([a-z_]+)"', html) == ["created", "denied", "reopened", "denied"]
    assert 'data-status="denied"' in html
    assert "Información inexistente" in html and "LGTAIP 2025 (DOF 20-03-2025): inexistencia" in html
    assert "No se genera esta información" in html and "Confirmado por el Comité de Transparencia" in html
    assert "Se revisará de nuevo" in html
    for item_id in (committed, published, denied):
        assert STAFF_EMAIL not in client.get(f"/items/{item_id}").text


def test_unknown_item_is_404(client, db):
    assert client.get("/items/987654").status_code == 404
    assert post_form(client, "/items/987654/follow", {"email": ""}).status_code == 404
    assert post_form(client, "/items/987654/follow", {"email": "a@example.mx"}).status_code == 404
    assert count(db, m.Follow) == 0 and not client.cookies.get(follow_forms.COOKIE)


def test_output_is_escaped(client, db):
    item_id = make_item(db, "<script>alert('x')</script> datos", description="<img src=x onerror=alert(1)>")
    html = client.get(f"/items/{item_id}").text
    assert "<script>alert(" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x" in html


def test_english_page(client, db):
    item_id = make_item(db)
    html = client.get(f"/items/{item_id}?lang=en").text
    assert '<html lang="en">' in html and "Follow this item" in html


def test_support_from_an_idmx_edition_with_segment_ranks(client, db):
    c = f.consultation(db, "idmx-nacional", phase="closed")
    p1, p2 = f.proposals(db, c.id, ["Calidad del aire por estación", "Mediciones de calidad del aire"])
    item_id = make_item(db, source=m.PlanSource.idmx)
    with db.write() as s:
        run = m.RankingRun(
            consultation_id=c.id, method=m.VotingMethod.approval, params={}, fingerprint="a" * 64, code_version="t",
            results=[], summary={},
            segment_ranks=[{"proposal_id": p1, "rank_overall": 1, "rank_academia": 2, "rank_not_stated": None},
                           {"proposal_id": p2, "rank_overall": 2, "rank_academia": 1, "rank_not_stated": 1}],
        )
        edition = m.Edition(series="idmx-2027", version=1, title_es="IDMX 2027", status=m.EditionStatus.published,
                            published_at=utcnow())
        s.add_all([run, edition])
        s.flush()
        infra = m.InfrastructureItem(edition_id=edition.id, key=1, title="Calidad del aire", rank=3, tier=1,
                                     priority=0.8, ci_low=0.7, ci_high=0.9, plan_item_id=item_id)
        s.add(infra)
        s.flush()
        s.add_all([
            m.ItemProposal(item_id=infra.id, proposal_id=p1, ranking_run_id=run.id, score=0.9, ci_low=0.8, ci_high=1,
                           n_eff=120.5, n_votes=150),
            m.ItemProposal(item_id=infra.id, proposal_id=p2, ranking_run_id=run.id, score=0.5, ci_low=0.4, ci_high=0.6,
                           n_eff=30.25, n_votes=40),
        ])
    html = client.get(f"/items/{item_id}").text
    assert 'href="/idmx/idmx-2027/v1"' in html
    assert f'href="/c/idmx-nacional/proposals/{p1}"' in html and f'href="/c/idmx-nacional/proposals/{p2}"' in html
    assert "120.5" in html and "150" in html and "30.2" in html and "40" in html
    assert "150.8" in html and "190" in html  # totals, weighted and unweighted
    assert html.count('data-segment="academia"') == 2
    assert html.count('data-segment="not_stated"') == 1


def test_support_from_the_institutions_own_consultation(client, db):
    c = f.consultation(db, "semarnat-2026", phase="closed", voting_method=m.VotingMethod.pairwise)
    (pid,) = f.proposals(db, c.id, ["Descargas de aguas residuales"])
    item_id = make_item(db, source=m.PlanSource.consultation, proposal_id=pid)
    with db.write() as s:
        s.add(m.RankingRun(
            consultation_id=c.id, method=m.VotingMethod.pairwise, params={}, fingerprint="b" * 64, code_version="t",
            results=[{"rank": 1, "proposal_id": pid, "score": 61.0, "ci_low": 50.0, "ci_high": 70.0, "n_eff": 42.5,
                      "n_votes": 57}],
            segment_ranks=None, summary={},
        ))
    html = client.get(f"/items/{item_id}").text
    assert f'href="/c/semarnat-2026/proposals/{pid}"' in html
    assert "42.5" in html and "57" in html
    assert 'data-segment=' not in html


# --- following ----------------------------------------------------------------------------------------------


def test_follow_without_email_keeps_nothing_on_the_server(client, db):
    item_id = make_item(db)
    audit_before = count(db, m.AuditEvent)
    response = post_form(client, f"/items/{item_id}/follow", {"email": ""})
    assert response.status_code == 303
    assert response.headers["location"] == f"/items/{item_id}?follow=browser#follow"
    assert client.cookies.get(follow_forms.COOKIE) == str(item_id)
    assert count(db, m.Follow) == 0 and count(db, m.OutboxMessage) == 0 and count(db, m.AuditEvent) == audit_before
    listing = client.get("/following")
    assert listing.status_code == 200 and f'data-item-id="{item_id}"' in listing.text
    assert 'data-status="pending"' in listing.text
    # Unfollow forgets it in the cookie.
    assert post_form(client, f"/items/{item_id}/unfollow", {"next": "/following"}).status_code == 303
    assert f'data-item-id="{item_id}"' not in client.get("/following").text


def test_follow_by_email_confirm_and_unsubscribe(client, db):
    item_id = make_item(db)
    first = post_form(client, f"/items/{item_id}/follow", {"email": "  Persona@Example.MX "})
    assert first.status_code == 303 and first.headers["location"] == f"/items/{item_id}?follow=email#follow"
    (row,) = follow_rows(db)
    assert row.email == "persona@example.mx" and row.language == "es" and row.confirmed_at is None
    assert len(row.token_hash) == 64
    (message,) = outbox(db)
    assert message.to_email == "persona@example.mx"
    token = re.search(r"http://127\.0\.0\.1:8000/follows/confirm/([A-Za-z0-9_-]+)", message.body).group(1)
    assert follows.links.hash_token(token) == row.token_hash
    assert f"http://127.0.0.1:8000/items/{item_id}" in message.body

    # The same address again: same answer, still one row (the unconfirmed one gets a fresh confirmation).
    again = post_form(client, f"/items/{item_id}/follow", {"email": "persona@example.mx"})
    assert (again.status_code, again.headers["location"]) == (first.status_code, first.headers["location"])
    assert len(follow_rows(db)) == 1
    token = re.search(r"/follows/confirm/([A-Za-z0-9_-]+)", outbox(db)[-1].body).group(1)

    # Opening the link changes nothing; the button confirms.
    page = client.get(f"/follows/confirm/{token}")
    assert page.status_code == 200 and page.headers["referrer-policy"] == "no-referrer"
    assert follow_rows(db)[0].confirmed_at is None
    confirmed = post_form(client, f"/follows/confirm/{token}", {})
    assert confirmed.status_code == 303
    assert follow_rows(db)[0].confirmed_at is not None
    assert client.get(f"/follows/confirm/{token}").status_code == 200

    # Confirmed: repeating the form still answers the same and sends nothing more.
    sent = count(db, m.OutboxMessage)
    third = post_form(client, f"/items/{item_id}/follow", {"email": "PERSONA@example.mx"})
    assert (third.status_code, third.headers["location"]) == (first.status_code, first.headers["location"])
    assert len(follow_rows(db)) == 1 and count(db, m.OutboxMessage) == sent

    # Unsubscribe: GET shows a button and deletes nothing; POST deletes the row.
    assert client.get(f"/follows/unsubscribe/{token}").status_code == 200
    assert len(follow_rows(db)) == 1
    gone = post_form(client, f"/follows/unsubscribe/{token}", {})
    assert gone.status_code == 303 and gone.headers["location"] == f"/follows/unsubscribed?item={item_id}"
    assert follow_rows(db) == []
    assert client.get(gone.headers["location"]).status_code == 200
    assert client.get(f"/follows/unsubscribe/{token}").status_code == 404
    assert post_form(client, f"/follows/confirm/{token}", {}).status_code == 404


def test_invalid_email_is_refused_in_place(client, db):
    item_id = make_item(db)
    response = post_form(client, f"/items/{item_id}/follow", {"email": "no es un correo"})
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.text and 'value="no es un correo"' in response.text
    assert count(db, m.Follow) == 0 and count(db, m.OutboxMessage) == 0
    assert not client.cookies.get(follow_forms.COOKIE)


def test_follow_with_htmx_answers_with_the_follow_section(client, db):
    item_id = make_item(db)
    response = post_form(client, f"/items/{item_id}/follow", {"email": "a@example.mx"}, htmx=True)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="follow"') and "<html" not in response.text
    assert len(follow_rows(db)) == 1 and client.cookies.get(follow_forms.COOKIE) == str(item_id)


def test_a_transition_notifies_confirmed_followers_only(client, db, staff_id):
    item_id = make_item(db, policy_due=policy.add_business_days(TODAY, 60))
    post_form(client, f"/items/{item_id}/follow", {"email": "confirmada@example.mx"})
    post_form(client, f"/items/{item_id}/follow", {"email": "pendiente@example.mx"})
    token = re.search(r"/follows/confirm/([A-Za-z0-9_-]+)", outbox(db)[0].body).group(1)
    assert post_form(client, f"/follows/confirm/{token}", {}).status_code == 303
    before = len(outbox(db))

    due = policy.add_business_days(TODAY, 30)
    apply(db, item_id, lambda a: policy.commit(a, due, TODAY), staff_id)
    new = outbox(db)[before:]
    assert [msg.to_email for msg in new] == ["confirmada@example.mx"]
    body = new[0].body
    assert f"http://127.0.0.1:8000/items/{item_id}" in body and STAFF_EMAIL not in body
    unsubscribe = re.search(r"http://127\.0\.0\.1:8000(/follows/unsubscribe/[0-9]+\.[0-9a-f]+)", body).group(1)

    # The signed link of an update e-mail works too; a tampered one does not.
    assert client.get(unsubscribe[:-1] + ("0" if unsubscribe[-1] != "0" else "1")).status_code == 404
    assert client.get(unsubscribe).status_code == 200
    assert post_form(client, unsubscribe, {}).status_code == 303
    assert [row.email for row in follow_rows(db)] == ["pendiente@example.mx"]
    apply(db, item_id, lambda a: policy.publish(a, "https://datos.gob.mx/aire", TODAY), staff_id)
    assert len(outbox(db)) == before + 1  # nobody confirmed is left


def test_follow_posts_are_rate_limited(db, settings):
    from litestar.testing import TestClient

    from idmx.app import create_app

    item_id = make_item(db)
    app = create_app(settings.with_(proposals_per_hour=2), db=db)
    with TestClient(app=app, base_url="http://testserver.local") as client:
        csrf(client)
        codes = [post_form(client, f"/items/{item_id}/follow", {"email": ""}).status_code for _ in range(3)]
    assert codes == [303, 303, 429]


def test_cookie_helpers_keep_at_most_100_ids():
    value = ""
    for i in range(1, 106):
        value = follow_forms.cookie_with(value, i)
    ids = follow_forms.cookie_ids(value)
    assert len(ids) == 100 and ids[0] == 6 and ids[-1] == 105
    assert follow_forms.cookie_ids("3-x-3-4--99999999999999999") == [3, 4]
    assert follow_forms.cookie_without("3-4", 3) == "4"


@pytest.mark.parametrize("raw, ok", [
    ("persona@example.mx", True), ("Nombre.Apellido+idmx@sub.gob.mx", True), ("sin-arroba", False),
    ("dos@@example.mx", False), ("a@b", False), ("a b@example.mx", False), ("x" * 250 + "@example.mx", False),
])
def test_email_shape(raw, ok):
    assert (follow_forms.normalise_email(raw) is not None) == ok
