"""Moderation through HTTP, on SQLite and PostgreSQL: the queue, approve, hide, edit, reports, bulk, merge.

Assertions use status codes, the database and stable markup (ids, data- attributes, `aria-invalid`),
not translated text. Public notes are asserted as stored data: they are written in Spanish on purpose.
"""

from __future__ import annotations

import re

import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from idmx.accounts.services import create_user
from idmx.db import models as m
from tests import factories as f
from tests.accounts.test_auth import PASSWORD, login
from tests.consultations.test_participation import csrf, post_form

EMAILS = {
    "central": "central@idmx.gob.mx",
    "admin": "admin@semarnat.gob.mx",
    "moderator": "mod@semarnat.gob.mx",
    "other": "mod@inegi.gob.mx",
}


@pytest.fixture
def staff(db):
    return {
        "central": create_user(db, EMAILS["central"], PASSWORD, m.Role.central_admin, None),
        "admin": create_user(db, EMAILS["admin"], PASSWORD, m.Role.institution_admin, "SEMARNAT"),
        "moderator": create_user(db, EMAILS["moderator"], PASSWORD, m.Role.institution_moderator, "SEMARNAT"),
        "other": create_user(db, EMAILS["other"], PASSWORD, m.Role.institution_moderator, "INEGI"),
    }


def institution_id(db, acronym: str) -> int:
    with db.read() as s:
        return s.scalar(select(m.Institution.id).where(m.Institution.acronym == acronym))


@pytest.fixture
def moderated(db, staff):
    """A SEMARNAT consultation with moderation on: two published proposals and three pending ones."""
    c = f.consultation(db, "aire-limpio", institution_id=institution_id(db, "SEMARNAT"),
                       proposal_mode=m.ProposalMode.moderated)
    published = f.proposals(db, c.id, ["Calidad del aire por estación de monitoreo", "Contratos de compras públicas"])
    pending = f.proposals(db, c.id, ["Incidencia delictiva por municipio", "Escuelas públicas con matrícula por grado",
                                     "Establecimientos de salud con horarios"], status=m.ProposalStatus.pending)
    return c, published, pending


def as_(client, who: str) -> None:
    assert login(client, EMAILS[who]).status_code == 303


def proposal(db, pid: int) -> m.Proposal:
    with db.read() as s:
        return s.get(m.Proposal, pid)


def events(db, action: str | None = None) -> list[m.AuditEvent]:
    """Audit events of moderation (the staff fixture's account creations left out)."""
    with db.read() as s:
        query = select(m.AuditEvent).where(m.AuditEvent.action.not_like("staff.%")).order_by(m.AuditEvent.id)
        if action:
            query = query.where(m.AuditEvent.action == action)
        return list(s.scalars(query))


def report(db, c: m.Consultation, pid: int, reason: str = "Contiene datos personales") -> int:
    with db.write() as s:
        r = m.ProposalReport(proposal_id=pid, consultation_id=c.id, reason=reason)
        s.add(r)
        s.flush()
        return r.id


# --- access --------------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client, moderated):
    c, published, pending = moderated
    for url in ("/staff/moderation", f"/staff/moderation/{c.id}", f"/staff/moderation/proposals/{pending[0]}",
                f"/staff/moderation/{c.id}/duplicates"):
        r = client.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/staff/login?next=/staff/moderation")
    r = post_form(client, f"/staff/moderation/proposals/{pending[0]}/approve", {})
    assert r.status_code == 303 and r.headers["location"].startswith("/staff/login")
    assert proposal(client.app.state.db, pending[0]).status == m.ProposalStatus.pending


def test_another_institutions_ids_are_not_found(client, db, moderated):
    c, published, pending = moderated
    rid = report(db, c, published[0])
    as_(client, "other")
    assert client.get("/staff/moderation").status_code == 200
    assert f'data-consultation="{c.id}"' not in client.get("/staff/moderation").text
    for url in (f"/staff/moderation/{c.id}", f"/staff/moderation/proposals/{pending[0]}",
                f"/staff/moderation/{c.id}/duplicates"):
        assert client.get(url).status_code == 404, url
    posts = [
        (f"/staff/moderation/proposals/{pending[0]}/approve", {}),
        (f"/staff/moderation/proposals/{pending[0]}/hide", {"reason": "Spam"}),
        (f"/staff/moderation/proposals/{pending[0]}/edit", {"title": "Un título nuevo", "institution": "unknown"}),
        (f"/staff/moderation/reports/{rid}/dismiss", {}),
        (f"/staff/moderation/{c.id}/merge", {"survivor": published[0], "merged": published[1]}),
        (f"/staff/moderation/{c.id}/bulk", {"ids": pending[0], "action": "approve"}),
    ]
    for url, data in posts:
        assert post_form(client, url, data).status_code == 404, url
    assert {proposal(db, pid).status for pid in pending} == {m.ProposalStatus.pending}
    assert events(db, "proposal.approve") == [] and proposal(db, published[1]).status == m.ProposalStatus.published


def test_other_institution_staff_cannot_merge_across_scopes_even_with_their_own_consultation(client, db, moderated):
    c, published, _ = moderated
    mine = f.consultation(db, "inegi-c", institution_id=institution_id(db, "INEGI"))
    (own,) = f.proposals(db, mine.id, ["Censo de población por localidad"])
    as_(client, "other")
    r = post_form(client, f"/staff/moderation/{mine.id}/merge", {"survivor": own, "merged": published[0]})
    assert r.status_code == 404
    assert proposal(db, published[0]).status == m.ProposalStatus.published


def test_moderators_admins_and_central_reach_the_queue(client, moderated):
    c, published, pending = moderated
    for who in ("moderator", "admin", "central"):
        as_(client, who)
        r = client.get(f"/staff/moderation/{c.id}")
        assert r.status_code == 200
        for pid in pending:
            assert f'id="queue-row-{pid}"' in r.text
        assert f'id="queue-row-{published[0]}"' not in r.text
        index = client.get("/staff/moderation")
        assert f'data-consultation="{c.id}"' in index.text and 'data-pending="3"' in index.text


# --- approve, hide, edit -------------------------------------------------------------------------------


def test_approve_publishes_with_an_audit_record_and_a_public_note(client, db, staff, moderated):
    c, _, pending = moderated
    as_(client, "moderator")
    r = post_form(client, f"/staff/moderation/proposals/{pending[0]}/approve", {})
    assert r.status_code == 303 and r.headers["location"] == f"/staff/moderation/proposals/{pending[0]}?saved=approved"
    assert proposal(db, pending[0]).status == m.ProposalStatus.published
    (event,) = events(db, "proposal.approve")
    assert event.actor_id == staff["moderator"] and event.object_id == pending[0]
    assert event.institution_id == institution_id(db, "SEMARNAT")
    assert event.before["status"] == "pending" and event.after["status"] == "published" and event.public_note
    assert 'data-saved="approved"' in client.get(r.headers["location"]).text
    # Approving again is refused and records nothing.
    assert post_form(client, f"/staff/moderation/proposals/{pending[0]}/approve", {}).status_code == 409
    assert len(events(db, "proposal.approve")) == 1
    with TestClient(app=client.app) as public:
        page = public.get(f"/c/{c.slug}/proposals/{pending[0]}")
        assert page.status_code == 200 and event.public_note in page.text


def test_approving_a_pending_proposal_counts_its_authors_support(client, db, moderated):
    c, _, _ = moderated
    post_form(client, f"/c/{c.slug}/propose", {"title": "Padrón de beneficiarios de programas", "institution": "unknown"})
    (pid,) = [p.id for p in f.rows(db, m.Proposal) if p.title.startswith("Padrón")]
    assert f.rows(db, m.Vote) == []
    as_(client, "moderator")
    assert post_form(client, f"/staff/moderation/proposals/{pid}/approve", {}).status_code == 303
    (vote,) = f.rows(db, m.Vote)
    assert vote.proposal_id == pid and vote.value == 1 and vote.respondent_id == proposal(db, pid).author_id


def test_hide_needs_a_reason_and_the_reason_is_public(client, db, moderated):
    c, published, _ = moderated
    rid = report(db, c, published[0])
    as_(client, "moderator")
    url = f"/staff/moderation/proposals/{published[0]}/hide"
    for blank in ("", "   ", "x" * 1001):
        r = post_form(client, url, {"reason": blank})
        assert r.status_code == 422 and 'id="reason-error"' in r.text and 'aria-invalid="true"' in r.text
    assert proposal(db, published[0]).status == m.ProposalStatus.published and events(db) == []
    r = post_form(client, url, {"reason": "  Contiene datos personales de una persona  "})
    assert r.status_code == 303
    p = proposal(db, published[0])
    assert p.status == m.ProposalStatus.hidden and p.hidden_reason == "Contiene datos personales de una persona"
    (event,) = events(db, "proposal.hide")
    assert event.public_note == "Ocultada por moderación: Contiene datos personales de una persona"
    assert event.after["hidden_reason"] == p.hidden_reason and event.after["reports_resolved"] == 1
    with db.read() as s:
        assert s.get(m.ProposalReport, rid).resolution == m.ReportResolution.hidden
    # Staff still see it, in the queue's hidden list and on its page.
    assert f'data-proposal="{p.id}"' in client.get(f"/staff/moderation/{c.id}").text
    staff_page = client.get(f"/staff/moderation/proposals/{p.id}")
    assert 'data-status="hidden"' in staff_page.text and 'data-action="proposal.hide"' in staff_page.text
    with TestClient(app=client.app) as public:
        page = public.get(f"/c/{c.slug}/proposals/{p.id}")
        assert page.status_code == 200 and "status-hidden" in page.text
        assert "Contiene datos personales de una persona" in page.text  # the public history says why
        assert f'/proposals/{p.id}/report"' not in page.text
    # Hidden proposals can be published again.
    assert post_form(client, f"/staff/moderation/proposals/{p.id}/approve", {}).status_code == 303
    assert proposal(db, p.id).status == m.ProposalStatus.published and proposal(db, p.id).hidden_reason == ""
    assert len(events(db, "proposal.restore")) == 1


def test_edit_keeps_the_history_and_refuses_invalid_fields_in_place(client, db, moderated):
    c, published, _ = moderated
    pid = published[0]
    inegi = institution_id(db, "INEGI")
    as_(client, "moderator")
    url = f"/staff/moderation/proposals/{pid}/edit"
    r = post_form(client, url, {"title": "abc", "description": "", "institution": "999999"})
    assert r.status_code == 422 and 'id="title-error"' in r.text and 'id="institution-error"' in r.text
    assert proposal(db, pid).title == "Calidad del aire por estación de monitoreo" and events(db) == []
    r = post_form(client, url, {"title": "Calidad del aire por hora y estación", "description": "Cada hora.",
                                "institution": str(inegi), "topic": ""})
    assert r.status_code == 303 and r.headers["location"].endswith("?saved=edited")
    p = proposal(db, pid)
    assert (p.title, p.description, p.institution_id) == ("Calidad del aire por hora y estación", "Cada hora.", inegi)
    (event,) = events(db, "proposal.edit")
    assert event.before["title"] == "Calidad del aire por estación de monitoreo"
    assert event.after["title"] == "Calidad del aire por hora y estación" and event.after["institution_id"] == inegi
    assert event.public_note == "Editada por moderación"
    staff_page = client.get(f"/staff/moderation/proposals/{pid}")
    assert "<del>Calidad del aire por estación de monitoreo</del>" in staff_page.text
    # Sending the same values again changes and records nothing.
    r = post_form(client, url, {"title": p.title, "description": p.description, "institution": str(inegi)})
    assert r.headers["location"].endswith("?saved=unchanged") and len(events(db, "proposal.edit")) == 1
    with TestClient(app=client.app) as public:
        assert "Editada por moderación" in public.get(f"/c/{c.slug}/proposals/{pid}").text


# --- reports -------------------------------------------------------------------------------------------


def test_anyone_can_report_a_published_proposal(client, db, moderated):
    c, published, pending = moderated
    url = f"/c/{c.slug}/proposals/{published[0]}/report"
    page = client.get(f"/c/{c.slug}/proposals/{published[0]}")
    assert f'href="{url}"' in page.text
    assert client.get(url).status_code == 200
    r = post_form(client, url, {"reason": "  Es publicidad  ", "website": ""})
    assert r.status_code == 303 and r.headers["location"] == url + "?sent=1"
    assert 'data-report="sent"' in client.get(r.headers["location"]).text
    (stored,) = f.rows(db, m.ProposalReport)
    assert (stored.proposal_id, stored.consultation_id, stored.reason) == (published[0], c.id, "Es publicidad")
    assert stored.resolved_at is None and stored.resolution is None and stored.respondent_id is None


def test_a_report_remembers_the_respondent_but_nothing_else(client, db, moderated):
    c, published, _ = moderated
    post_form(client, f"/c/{c.slug}/proposals/{published[0]}/vote", {"support": "1"})
    (respondent,) = f.rows(db, m.Respondent)
    r = post_form(client, f"/c/{c.slug}/proposals/{published[1]}/report", {"reason": "Repite otra propuesta"}, htmx=True)
    assert r.status_code == 200 and 'data-report="sent"' in r.text and r.text.lstrip().startswith('<div class="report-box"')
    (stored,) = f.rows(db, m.ProposalReport)
    assert stored.respondent_id == respondent.id
    columns = set(m.ProposalReport.__table__.columns.keys())
    assert columns == {"id", "proposal_id", "consultation_id", "respondent_id", "reason", "created_at", "resolved_at",
                       "resolution"}


@pytest.mark.parametrize("data", [{"reason": ""}, {"reason": "x" * 1001}, {"reason": "Spam", "website": "http://x"}])
def test_invalid_reports_are_refused_in_place(client, db, moderated, data):
    c, published, _ = moderated
    r = post_form(client, f"/c/{c.slug}/proposals/{published[0]}/report", data)
    assert r.status_code == 422 and 'notice-error' in r.text
    assert f.rows(db, m.ProposalReport) == []


def test_only_published_proposals_can_be_reported(client, db, moderated):
    c, published, pending = moderated
    assert post_form(client, f"/c/{c.slug}/proposals/{pending[0]}/report", {"reason": "Spam"}).status_code == 409
    assert post_form(client, f"/c/{c.slug}/proposals/999999/report", {"reason": "Spam"}).status_code == 404
    other = f.consultation(db, "otra")
    assert post_form(client, f"/c/{other.slug}/proposals/{published[0]}/report", {"reason": "Spam"}).status_code == 404
    assert f.rows(db, m.ProposalReport) == []


def test_reports_wait_in_the_queue_until_dismissed(client, db, staff, moderated):
    c, published, _ = moderated
    post_form(client, f"/c/{c.slug}/proposals/{published[1]}/report", {"reason": "Lenguaje ofensivo"})
    (rep,) = f.rows(db, m.ProposalReport)
    as_(client, "moderator")
    queue = client.get(f"/staff/moderation/{c.id}")
    assert f'id="queue-row-{published[1]}"' in queue.text and "Lenguaje ofensivo" in queue.text
    assert 'data-reported="1"' in client.get("/staff/moderation").text
    r = post_form(client, f"/staff/moderation/reports/{rep.id}/dismiss", {})
    assert r.status_code == 303 and r.headers["location"].endswith("?saved=dismissed")
    with db.read() as s:
        stored = s.get(m.ProposalReport, rep.id)
    assert stored.resolution == m.ReportResolution.dismissed and stored.resolved_at is not None
    (event,) = events(db, "report.dismiss")
    assert event.actor_id == staff["moderator"] and event.object_type == "proposal_report" and event.public_note == ""
    assert f'id="queue-row-{published[1]}"' not in client.get(f"/staff/moderation/{c.id}").text
    assert post_form(client, f"/staff/moderation/reports/{rep.id}/dismiss", {}).status_code == 409
    assert proposal(db, published[1]).status == m.ProposalStatus.published


# --- bulk ----------------------------------------------------------------------------------------------


def test_bulk_approve_with_htmx_swaps_the_queue(client, db, moderated):
    c, published, pending = moderated
    rid = report(db, c, published[0])
    as_(client, "moderator")
    url = f"/staff/moderation/{c.id}/bulk"
    r = client.post(url, data={"ids": [pending[0], pending[1], published[0]], "action": "approve",
                               "_csrf_token": csrf(client)}, headers={"HX-Request": "true", "x-csrftoken": csrf(client)})
    assert r.status_code == 200 and r.text.lstrip().startswith('<div id="queue"')
    assert "HX-Request" in r.headers["vary"].split(",") and 'data-done="3"' in r.text
    assert f'id="queue-row-{pending[2]}"' in r.text
    assert all(f'id="queue-row-{pid}"' not in r.text for pid in (pending[0], pending[1], published[0]))
    assert [proposal(db, pid).status for pid in pending] == [m.ProposalStatus.published] * 2 + [m.ProposalStatus.pending]
    with db.read() as s:
        assert s.get(m.ProposalReport, rid).resolution == m.ReportResolution.dismissed
    assert len(events(db, "proposal.approve")) == 2 and len(events(db, "report.dismiss")) == 1


def test_bulk_hide_needs_one_reason_and_works_without_javascript(client, db, moderated):
    c, published, pending = moderated
    as_(client, "moderator")
    url = f"/staff/moderation/{c.id}/bulk"
    r = post_form(client, url, {"ids": [pending[0], pending[1]], "action": "hide", "reason": ""}, htmx=True)
    assert r.status_code == 422 and 'id="bulk-reason-error"' in r.text
    assert f'value="{pending[0]}" id="select-{pending[0]}" aria-labelledby="title-{pending[0]}" checked' in r.text
    assert post_form(client, url, {"action": "hide", "reason": "Spam"}).status_code == 422  # nothing selected
    assert post_form(client, url, {"ids": pending[0], "action": "delete"}).status_code == 422
    assert post_form(client, url, {"ids": "abc", "action": "approve"}).status_code == 422
    assert {proposal(db, pid).status for pid in pending} == {m.ProposalStatus.pending} and events(db) == []
    r = post_form(client, url, {"ids": [pending[0], pending[1]], "action": "hide", "reason": "Publicidad"})
    assert r.status_code == 303 and r.headers["location"] == f"/staff/moderation/{c.id}?done=2&skipped=0"
    assert 'data-done="2"' in client.get(r.headers["location"]).text
    assert [proposal(db, pid).hidden_reason for pid in pending[:2]] == ["Publicidad", "Publicidad"]
    assert len(events(db, "proposal.hide")) == 2
    # One checked box arrives as a single value; rows the action does not apply to are skipped.
    r = post_form(client, url, {"ids": str(pending[0]), "action": "hide", "reason": "Otra vez"})
    assert r.headers["location"].endswith("done=0&skipped=1") and proposal(db, pending[0]).hidden_reason == "Publicidad"


def test_bulk_refuses_ids_of_another_consultation(client, db, moderated):
    c, published, pending = moderated
    other = f.consultation(db, "otra-semarnat", institution_id=institution_id(db, "SEMARNAT"))
    (foreign,) = f.proposals(db, other.id, ["Residuos sólidos por municipio"], status=m.ProposalStatus.pending)
    as_(client, "moderator")
    r = post_form(client, f"/staff/moderation/{c.id}/bulk", {"ids": [pending[0], foreign], "action": "approve"})
    assert r.status_code == 404
    assert proposal(db, pending[0]).status == m.ProposalStatus.pending  # all or nothing


# --- merge ---------------------------------------------------------------------------------------------


def test_merge_points_the_public_page_to_the_survivor(client, db, moderated):
    c, published, pending = moderated
    a, b = published
    as_(client, "moderator")
    post_form(client, f"/c/{c.slug}/proposals/{b}/vote", {"support": "1"})
    r = post_form(client, f"/staff/moderation/{c.id}/merge", {"survivor": a, "merged": b})
    assert r.status_code == 303 and r.headers["location"] == f"/staff/moderation/proposals/{a}?saved=merged"
    merged = proposal(db, b)
    assert merged.status == m.ProposalStatus.merged and merged.merged_into_id == a
    assert [v.proposal_id for v in f.rows(db, m.Vote)] == [a]
    (event,) = events(db, "proposal.merge")
    assert event.object_id == b and event.after["merged_into_id"] == a and event.after["merge"]["votes_moved"] == 1
    assert event.public_note == "Fusionada en «Calidad del aire por estación de monitoreo»"
    assert len(events(db, "proposal.absorb")) == 1
    with TestClient(app=client.app) as public:
        page = public.get(f"/c/{c.slug}/proposals/{b}")
        assert page.status_code == 200 and f'href="/c/{c.slug}/proposals/{a}"' in page.text
        assert event.public_note in page.text
        assert "Se fusionó aquí" in public.get(f"/c/{c.slug}/proposals/{a}").text
    staff_page = client.get(f"/staff/moderation/proposals/{b}")
    assert f'href="/staff/moderation/proposals/{a}"' in staff_page.text and 'id="merge-form"' not in staff_page.text


def test_merge_refusals(client, db, moderated):
    c, published, pending = moderated
    as_(client, "moderator")
    url = f"/staff/moderation/{c.id}/merge"
    r = post_form(client, url, {"survivor": "", "merged": published[1]})
    assert r.status_code == 422 and 'id="survivor-error"' in r.text
    assert post_form(client, url, {"survivor": pending[0], "merged": published[1]}).status_code == 409  # survivor pending
    assert post_form(client, url, {"survivor": published[0], "merged": published[0]}).status_code == 400
    assert post_form(client, url, {"survivor": published[0], "merged": 999999}).status_code == 404
    assert post_form(client, url, {"survivor": published[0]}).status_code == 422  # a form error in scope
    assert {proposal(db, pid).status for pid in published} == {m.ProposalStatus.published} and events(db) == []


def test_duplicates_are_suggested_with_one_click_merge(client, db, moderated):
    c, published, pending = moderated
    a, b = f.proposals(db, c.id, ["Calidad del aire por municipio", "Datos municipales de calidad de aire"])
    (p,) = f.proposals(db, c.id, ["Datos de calidad de aire por municipios"], status=m.ProposalStatus.pending)
    as_(client, "moderator")
    page = client.get(f"/staff/moderation/{c.id}/duplicates")
    assert page.status_code == 200
    groups = clusters_of(page.text)
    (group,) = [g for g in groups if a in g["ids"]]
    assert {a, b, p} <= set(group["ids"]) and published[1] not in {i for g in groups for i in g["ids"]}
    # The survivor is published: with equal votes the oldest, unless staff keep another one.
    assert group["survivor"] == min(set(group["ids"]) - {p})
    page = client.get(f"/staff/moderation/{c.id}/duplicates", params={"keep": a})
    (group,) = [g for g in clusters_of(page.text) if a in g["ids"]]
    assert group["survivor"] == a
    assert f'name="survivor" value="{a}"' in page.text and f'name="survivor" value="{p}"' not in page.text
    r = post_form(client, f"/staff/moderation/{c.id}/merge",
                  {"survivor": a, "merged": p, "next": f"/staff/moderation/{c.id}/duplicates?merged=1"})
    assert r.status_code == 303 and r.headers["location"] == f"/staff/moderation/{c.id}/duplicates?merged=1"
    assert proposal(db, p).merged_into_id == a
    assert p not in {i for g in clusters_of(client.get(r.headers["location"]).text) for i in g["ids"]}
    # An outside `next` is ignored.
    r = post_form(client, f"/staff/moderation/{c.id}/merge", {"survivor": a, "merged": b, "next": "https://evil.example/"})
    assert r.headers["location"] == f"/staff/moderation/proposals/{a}?saved=merged"


def clusters_of(page: str) -> list[dict]:
    """The duplicate groups of the staff page, in page order: ids, survivor (or None) and score."""
    found = re.finditer(r'<section class="cluster" data-cluster="([\d-]+)" data-score="([\d.]+)"'
                        r'(?: data-survivor="(\d+)")?', page)
    return [{"ids": [int(i) for i in g[1].split("-")], "score": float(g[2]), "survivor": int(g[3]) if g[3] else None}
            for g in found]


# --- the table's own rules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        {"reason": ""},
        {"reason": "x" * 1001},
        {"reason": "Spam", "resolution": m.ReportResolution.dismissed},  # resolved without a date
        {"reason": "Spam", "resolved_at": "now"},  # a date without a resolution
    ],
)
def test_reports_table_refuses_inconsistent_rows(db, moderated, values):
    from sqlalchemy.exc import IntegrityError

    from idmx.clock import now as utcnow

    c, published, _ = moderated
    if values.get("resolved_at") == "now":
        values = {**values, "resolved_at": utcnow()}
    with pytest.raises(IntegrityError), db.write() as s:
        s.add(m.ProposalReport(proposal_id=published[0], consultation_id=c.id, **values))
    assert f.rows(db, m.ProposalReport) == []


def test_a_report_outlives_its_respondent_but_not_its_proposal(db, moderated):
    c, published, _ = moderated
    with db.write() as s:
        r = m.Respondent(consultation_id=c.id, token_hash="a" * 64)
        s.add(r)
        s.flush()
        s.add(m.ProposalReport(proposal_id=published[0], consultation_id=c.id, respondent_id=r.id, reason="Spam"))
    with db.write() as s:
        s.execute(m.Respondent.__table__.delete())
    (kept,) = f.rows(db, m.ProposalReport)
    assert kept.respondent_id is None
    with db.write() as s:
        s.execute(m.Proposal.__table__.delete().where(m.Proposal.id == published[0]))
    assert f.rows(db, m.ProposalReport) == []
