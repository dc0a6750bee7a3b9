"""Staff management of consultations through HTTP, on SQLite and PostgreSQL.

Text assertions use stable markup (ids, names, `field-error` markers) and the database, not translated text.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from idmx.accounts.services import create_user
from idmx.clock import now as utcnow
from idmx.consultation_admin import forms
from idmx.consultations import rules
from idmx.db import models as m
from tests import factories as f
from tests.accounts.test_auth import PASSWORD, login
from tests.consultations.test_participation import csrf, post_form

BASE = "/staff/consultations"


@pytest.fixture
def staff(db):
    return {
        "central": create_user(db, "central@idmx.gob.mx", PASSWORD, m.Role.central_admin, None),
        "admin": create_user(db, "admin@semarnat.gob.mx", PASSWORD, m.Role.institution_admin, "SEMARNAT"),
        "moderator": create_user(db, "mod@semarnat.gob.mx", PASSWORD, m.Role.institution_moderator, "SEMARNAT"),
        "other": create_user(db, "admin@inegi.gob.mx", PASSWORD, m.Role.institution_admin, "INEGI"),
    }


@pytest.fixture
def ref(db):
    with db.read() as s:
        inst = dict(s.execute(select(m.Institution.acronym, m.Institution.id)).all())
        segments = list(s.scalars(select(m.Segment.code).order_by(m.Segment.sort_order, m.Segment.code)))
        states = list(s.scalars(select(m.State.inegi_code).order_by(m.State.inegi_code)))
        topics = dict(s.execute(select(m.Topic.code, m.Topic.id)).all())
    return {"inst": inst, "segments": segments, "states": states, "topics": topics}


def local(delta: timedelta) -> str:
    return forms.format_local(utcnow() + delta)


def settings_data(**overrides) -> dict:
    data = {
        "slug": "datos-abiertos-2030", "title_es": "Datos que necesitas", "title_en": "Data you need",
        "description_es": "Propón y vota.", "description_en": "Propose and vote.", "institution": "",
        "voting_method": "approval", "proposal_mode": "open", "results_visibility": "after_close",
        "segment_question": "optional", "opens_at": local(timedelta(days=2)), "closes_at": local(timedelta(days=30)),
    }
    data.update(overrides)
    return data


def as_(client, who: str) -> None:
    emails = {"central": "central@idmx.gob.mx", "admin": "admin@semarnat.gob.mx", "moderator": "mod@semarnat.gob.mx",
              "other": "admin@inegi.gob.mx"}
    assert login(client, emails[who]).status_code == 303


def consultation_events(db, action: str | None = None) -> list[m.AuditEvent]:
    return [e for e in f.rows(db, m.AuditEvent) if e.action.startswith("consultation.") and action in (None, e.action)]


def get(db, cid: int) -> m.Consultation:
    with db.read() as s:
        return s.get(m.Consultation, cid)


def upload(client, cid: int, content: bytes, name: str = "propuestas.csv"):
    return client.post(f"{BASE}/{cid}/proposals/csv", data={"_csrf_token": csrf(client)},
                       files={"file": (name, content, "text/csv")}, follow_redirects=False)


# --- create ------------------------------------------------------------------------------------------


def test_create_stores_a_draft_with_targets_in_utc_and_an_audit_event(client, db, staff, ref):
    as_(client, "central")
    assert client.get(f"{BASE}/new").status_code == 200
    segs = ref["segments"]
    shares = {forms.target_input("segment", code): "0.1" for code in segs[1:]}
    shares[forms.target_input("segment", segs[0])] = str(round(1 - 0.1 * (len(segs) - 1), 4))
    r = post_form(client, f"{BASE}/", settings_data(
        institution=str(ref["inst"]["INEGI"]), opens_at="2030-01-15T09:00", closes_at="2030-03-01T18:30",
        voting_method="rating", segment_question="required", **shares))
    assert r.status_code == 303, r.text
    [c] = f.rows(db, m.Consultation)
    assert r.headers["location"] == f"{BASE}/{c.id}"
    assert c.status == m.ConsultationStatus.draft and c.institution_id == ref["inst"]["INEGI"]
    assert c.voting_method == m.VotingMethod.rating and c.segment_required is True
    # Central Mexico time (UTC-6, no daylight saving time since 2022) stored as UTC.
    assert c.opens_at == datetime(2030, 1, 15, 15, 0, tzinfo=timezone.utc)
    assert c.closes_at == datetime(2030, 3, 2, 0, 30, tzinfo=timezone.utc)
    targets = {t.category: t.target for t in f.rows(db, m.WeightingTarget)}
    assert set(targets) == set(segs) and abs(sum(targets.values()) - 1) < 1e-9
    [event] = consultation_events(db)
    assert event.action == "consultation.create" and event.object_id == c.id and event.after["slug"] == c.slug
    assert event.actor_id == staff["central"] and event.after["status"] == "draft"
    page = client.get(f"{BASE}/{c.id}")
    assert page.status_code == 200 and 'value="2030-01-15T09:00"' in page.text
    assert 'id="share-url"' in page.text and 'value="http://testserver.local/c/datos-abiertos-2030"' in page.text


def test_empty_targets_mean_equal_shares_and_store_no_rows(client, db, staff):
    as_(client, "central")
    assert post_form(client, f"{BASE}/", settings_data()).status_code == 303
    [c] = f.rows(db, m.Consultation)
    assert c.institution_id is None and f.rows(db, m.WeightingTarget) == []


def test_state_targets_are_optional_and_follow_the_same_rule(client, db, staff, ref):
    as_(client, "central")
    states = {forms.target_input("state", code): "0.03125" for code in ref["states"]}  # 32 equal shares
    assert post_form(client, f"{BASE}/", settings_data(**states)).status_code == 303
    assert sorted(t.category for t in f.rows(db, m.WeightingTarget) if t.variable == "state") == sorted(ref["states"])


def test_institution_admin_creates_only_for_their_own_institution(client, db, staff, ref):
    as_(client, "admin")
    r = post_form(client, f"{BASE}/", settings_data(institution=str(ref["inst"]["INEGI"])))
    assert r.status_code == 422 and 'id="institution-error"' in r.text
    assert f.rows(db, m.Consultation) == []
    r = post_form(client, f"{BASE}/", settings_data(institution=""))
    assert r.status_code == 303
    [c] = f.rows(db, m.Consultation)
    assert c.institution_id == ref["inst"]["SEMARNAT"]


BAD_INPUTS = {
    "closing before opening": ({"opens_at": local(timedelta(days=9)), "closes_at": local(timedelta(days=3))}, "closes_at"),
    "closing in the past": ({"opens_at": local(timedelta(days=-9)), "closes_at": local(timedelta(days=-3))}, "closes_at"),
    "not a date": ({"opens_at": "mañana"}, "opens_at"),
    "bad slug characters": ({"slug": "datos abiertos ñ"}, "slug"),
    "slug too short": ({"slug": "ab"}, "slug"),
    "missing Spanish title": ({"title_es": "   "}, "title_es"),
    "unknown voting method": ({"voting_method": "plurality"}, "voting_method"),
    "unknown institution": ({"institution": "999999"}, "institution"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_settings_are_refused_in_place_and_nothing_is_stored(client, db, staff, case):
    overrides, field = BAD_INPUTS[case]
    as_(client, "central")
    r = post_form(client, f"{BASE}/", settings_data(**overrides))
    assert r.status_code == 422
    assert f'id="{field}-error"' in r.text and 'class="field-error"' in r.text
    assert 'name="title_en" type="text" value="Data you need"' in r.text  # the form comes back filled in
    assert f.rows(db, m.Consultation) == [] and consultation_events(db) == []


def test_targets_must_sum_to_one_and_be_numbers(client, db, staff, ref):
    as_(client, "central")
    segs = ref["segments"]
    not_one = {forms.target_input("segment", code): "0.5" for code in segs}
    r = post_form(client, f"{BASE}/", settings_data(**not_one))
    assert r.status_code == 422 and 'id="targets_segment-error"' in r.text
    not_number = {forms.target_input("segment", code): "0.2" for code in segs}
    not_number[forms.target_input("segment", segs[0])] = "veinte"
    r = post_form(client, f"{BASE}/", settings_data(**not_number))
    assert r.status_code == 422 and f'id="target_segment_{segs[0]}-error"' in r.text
    partial = {forms.target_input("segment", segs[0]): "1"}
    r = post_form(client, f"{BASE}/", settings_data(**partial))
    assert r.status_code == 422 and 'id="targets_segment-error"' in r.text
    within = {forms.target_input("segment", code): str(1 / len(segs) + 0.0001 / len(segs)) for code in segs}
    assert post_form(client, f"{BASE}/", settings_data(**within)).status_code == 303  # within 0.001
    assert len(f.rows(db, m.Consultation)) == 1


def test_duplicate_slug_is_refused_in_place(client, db, staff):
    f.consultation(db, "datos-abiertos-2030")
    as_(client, "central")
    r = post_form(client, f"{BASE}/", settings_data())
    assert r.status_code == 422 and 'id="slug-error"' in r.text
    assert len(f.rows(db, m.Consultation)) == 1 and consultation_events(db) == []
    other = f.consultation(db, "otra-consulta", phase="upcoming", status=m.ConsultationStatus.draft)
    r = post_form(client, f"{BASE}/{other.id}", settings_data(slug="datos-abiertos-2030"))
    assert r.status_code == 422 and 'id="slug-error"' in r.text and get(db, other.id).slug == "otra-consulta"


# --- who may do what -------------------------------------------------------------------------------


def test_institution_admin_cannot_see_or_touch_another_institutions_consultation(client, db, staff, ref):
    theirs = f.consultation(db, "consulta-inegi", institution_id=ref["inst"]["INEGI"])
    ours = f.consultation(db, "consulta-semarnat", institution_id=ref["inst"]["SEMARNAT"])
    as_(client, "admin")
    listing = client.get(f"{BASE}/")
    assert listing.status_code == 200 and f'id="consultation-{ours.id}"' in listing.text
    assert f'id="consultation-{theirs.id}"' not in listing.text
    for path in ("", "/preview", "/proposals", "/clone"):
        assert client.get(f"{BASE}/{theirs.id}{path}").status_code == 404, path
    for path, data in [("", settings_data(slug="robada")), ("/publish", {}), ("/open", {}), ("/close", {}),
                       ("/proposals", {"titles": "Una propuesta cualquiera"}),
                       ("/clone", {"slug": "copia-robada", "opens_at": local(timedelta(days=1)), "closes_at": local(timedelta(days=9))})]:
        assert post_form(client, f"{BASE}/{theirs.id}{path}", data).status_code == 404, path
    assert upload(client, theirs.id, b"title,description\nUna propuesta cualquiera,\n").status_code == 404
    assert get(db, theirs.id).slug == "consulta-inegi" and len(f.rows(db, m.Consultation)) == 2
    assert f.rows(db, m.Proposal) == [] and consultation_events(db) == []
    assert client.get(f"{BASE}/{ours.id}").status_code == 200


def test_moderator_cannot_manage_consultations(client, db, staff, ref):
    c = f.consultation(db, "consulta-semarnat", institution_id=ref["inst"]["SEMARNAT"])
    as_(client, "moderator")
    listing = client.get(f"{BASE}/")
    assert listing.status_code == 200 and 'id="new-consultation"' not in listing.text
    assert client.get(f"{BASE}/{c.id}/preview").status_code == 200
    for path in ("/new", f"/{c.id}", f"/{c.id}/proposals", f"/{c.id}/clone"):
        assert client.get(f"{BASE}{path}").status_code == 403, path
    for path in ("/", f"/{c.id}", f"/{c.id}/publish", f"/{c.id}/open", f"/{c.id}/close", f"/{c.id}/proposals", f"/{c.id}/clone"):
        assert post_form(client, f"{BASE}{path}", settings_data()).status_code == 403, path
    assert upload(client, c.id, b"title,description\nUna propuesta cualquiera,\n").status_code == 403
    assert len(f.rows(db, m.Consultation)) == 1 and f.rows(db, m.Proposal) == []


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    r = client.get(f"{BASE}/new", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/staff/login")


# --- rules frozen once open ------------------------------------------------------------------------


@pytest.fixture
def open_consultation(db, ref):
    c = f.consultation(db, "consulta-abierta", phase="open", institution_id=ref["inst"]["SEMARNAT"])
    with db.write() as s:
        s.add_all([m.WeightingTarget(consultation_id=c.id, variable="segment", category=code, target=1 / len(ref["segments"]))
                   for code in ref["segments"]])
    return c


def edit_data(c: m.Consultation, **overrides) -> dict:
    """What the edit page of an open consultation sends: its frozen fields are not inputs any more."""
    data = {"slug": c.slug, "title_es": c.title_es, "title_en": c.title_en, "description_es": c.description_es,
            "description_en": c.description_en, "results_visibility": c.results_visibility.value,
            "segment_question": "optional", "closes_at": forms.format_local(c.closes_at)}
    data.update(overrides)
    return data


def test_open_consultation_shows_its_rules_read_only(client, staff, open_consultation):
    as_(client, "admin")
    page = client.get(f"{BASE}/{open_consultation.id}")
    assert page.status_code == 200
    assert 'id="voting_method-value"' in page.text and 'name="voting_method"' not in page.text
    assert 'name="opens_at"' not in page.text and 'name="target_segment_' not in page.text
    assert 'name="closes_at"' in page.text


def test_frozen_rules_cannot_change_after_opening(client, db, staff, ref, open_consultation):
    c = open_consultation
    as_(client, "admin")
    assert post_form(client, f"{BASE}/{c.id}", edit_data(c)).status_code == 303  # unchanged: fine
    attempts = {
        "voting_method": {"voting_method": "rating"},
        "proposal_mode": {"proposal_mode": "fixed"},
        "opens_at": {"opens_at": local(timedelta(hours=-2))},
        "targets_segment": {forms.target_input("segment", code): "" for code in ref["segments"]},
    }
    for field, change in attempts.items():
        r = post_form(client, f"{BASE}/{c.id}", edit_data(c, title_es="Nuevo título", **change))
        assert r.status_code == 422 and f'id="{field}-error"' in r.text, field
    after = get(db, c.id)
    assert after.voting_method == m.VotingMethod.approval and after.proposal_mode == m.ProposalMode.open
    assert after.opens_at == c.opens_at and after.title_es == c.title_es
    assert len(f.rows(db, m.WeightingTarget)) == len(ref["segments"])
    assert consultation_events(db) == []


def test_closing_date_can_be_extended_and_the_extension_is_logged(client, db, staff, open_consultation):
    c = open_consultation
    as_(client, "admin")
    earlier = post_form(client, f"{BASE}/{c.id}", edit_data(c, closes_at=forms.format_local(c.closes_at - timedelta(days=2))))
    assert earlier.status_code == 422 and 'id="closes_at-error"' in earlier.text
    later = c.closes_at + timedelta(days=7)
    r = post_form(client, f"{BASE}/{c.id}", edit_data(c, closes_at=forms.format_local(later), title_en="Renamed"))
    assert r.status_code == 303 and r.headers["location"] == f"{BASE}/{c.id}?saved=1"
    after = get(db, c.id)
    assert after.closes_at == later.replace(second=0, microsecond=0) and after.title_en == "Renamed"
    [extend] = consultation_events(db, "consultation.extend")
    assert extend.before == {"closes_at": c.closes_at.isoformat()}
    assert extend.after == {"closes_at": after.closes_at.isoformat()} and extend.actor_id == staff["admin"]
    [update] = consultation_events(db, "consultation.update")
    assert update.before == {"title_en": "Test consultation"} and update.after == {"title_en": "Renamed"}


def test_a_draft_can_change_everything(client, db, staff, ref):
    c = f.consultation(db, "borrador", phase="upcoming", status=m.ConsultationStatus.draft, institution_id=ref["inst"]["SEMARNAT"])
    as_(client, "admin")
    page = client.get(f"{BASE}/{c.id}")
    assert 'name="voting_method"' in page.text and 'name="opens_at"' in page.text
    r = post_form(client, f"{BASE}/{c.id}", settings_data(slug="borrador", voting_method="pairwise", proposal_mode="fixed",
                                                          opens_at=local(timedelta(days=5))))
    assert r.status_code == 303
    after = get(db, c.id)
    assert after.voting_method == m.VotingMethod.pairwise and after.proposal_mode == m.ProposalMode.fixed
    [event] = consultation_events(db)
    assert event.action == "consultation.update" and event.after["voting_method"] == "pairwise"


# --- publish, open and close early ------------------------------------------------------------------


def test_publish_then_open_now_then_close_now(client, db, staff, ref):
    c = f.consultation(db, "por-abrir", phase="upcoming", status=m.ConsultationStatus.draft, institution_id=ref["inst"]["SEMARNAT"])
    as_(client, "admin")
    assert client.get(f"/c/{c.slug}/").status_code == 404  # drafts are invisible
    r = post_form(client, f"{BASE}/{c.id}/publish", {})
    assert r.status_code == 303 and r.headers["location"] == f"{BASE}/{c.id}"
    published = get(db, c.id)
    assert published.status == m.ConsultationStatus.published and published.opens_at == c.opens_at
    assert rules.phase(published, utcnow()) == "upcoming"
    before = utcnow()
    assert post_form(client, f"{BASE}/{c.id}/open", {}).status_code == 303
    opened = get(db, c.id)
    assert before <= opened.opens_at <= utcnow() and rules.is_open(opened, utcnow())
    assert client.get(f"/c/{c.slug}/").status_code == 200
    assert post_form(client, f"{BASE}/{c.id}/open", {}).status_code == 409  # already open
    assert post_form(client, f"{BASE}/{c.id}/close", {}).status_code == 303
    closed = get(db, c.id)
    assert rules.phase(closed, utcnow()) == "closed" and closed.closes_at <= utcnow()
    assert post_form(client, f"{BASE}/{c.id}/close", {}).status_code == 409
    actions = [e.action for e in consultation_events(db)]
    assert actions == ["consultation.publish", "consultation.open", "consultation.close"]
    [open_event] = consultation_events(db, "consultation.open")
    assert open_event.before["opens_at"] == c.opens_at.isoformat()


def test_open_now_publishes_a_draft_whose_opening_date_has_passed(client, db, staff, ref):
    c = f.consultation(db, "ya-deberia", phase="open", status=m.ConsultationStatus.draft, institution_id=ref["inst"]["SEMARNAT"])
    as_(client, "admin")
    assert post_form(client, f"{BASE}/{c.id}/open", {}).status_code == 303
    after = get(db, c.id)
    assert after.status == m.ConsultationStatus.published and after.opens_at == c.opens_at


# --- preview and listing ----------------------------------------------------------------------------


def test_preview_renders_the_respondents_view_of_a_draft(client, db, staff, ref):
    c = f.consultation(db, "vista-previa", phase="upcoming", status=m.ConsultationStatus.draft,
                       institution_id=ref["inst"]["SEMARNAT"], title_es="Consulta en preparación")
    f.proposals(db, c.id, f.TITLES[:2])
    as_(client, "admin")
    r = client.get(f"{BASE}/{c.id}/preview")
    assert r.status_code == 200 and 'id="preview-frame"' in r.text
    assert "Consulta en preparación" in r.text and f.TITLES[0] in r.text and 'id="proposal-list"' in r.text
    assert "<fieldset disabled hx-disable" in r.text  # nothing in the frame posts, e.g. no staff votes
    listing = client.get(f"{BASE}/")
    for action in ("preview", "proposals", "clone", "open"):
        assert f"{BASE}/{c.id}/{action}" in listing.text, action
    assert f'href="{BASE}/{c.id}"' in listing.text


# --- clone as the next round -------------------------------------------------------------------------


def test_clone_carries_settings_targets_and_unanswered_proposals(client, db, staff, ref, open_consultation):
    source = open_consultation
    kept = f.proposals(db, source.id, f.TITLES[:3], institution_id=ref["inst"]["SEMARNAT"], description="Por mes")
    [hidden] = f.proposals(db, source.id, ["Una propuesta ocultada"], status=m.ProposalStatus.hidden)
    f.proposals(db, source.id, ["Una propuesta fusionada"], status=m.ProposalStatus.merged, merged_into_id=kept[0])
    f.proposals(db, source.id, ["Una propuesta pendiente"], status=m.ProposalStatus.pending)
    as_(client, "admin")
    assert client.get(f"{BASE}/{source.id}/clone").status_code == 200
    data = {"slug": "consulta-abierta-2", "opens_at": "2031-01-10T08:00", "closes_at": "2031-02-10T08:00"}
    r = post_form(client, f"{BASE}/{source.id}/clone", data)
    assert r.status_code == 303
    new = next(c for c in f.rows(db, m.Consultation) if c.slug == "consulta-abierta-2")
    assert r.headers["location"] == f"{BASE}/{new.id}"
    assert new.previous_id == source.id and new.status == m.ConsultationStatus.draft
    assert new.institution_id == source.institution_id and new.voting_method == source.voting_method
    assert new.title_es == source.title_es and new.opens_at == datetime(2031, 1, 10, 14, tzinfo=timezone.utc)
    copied = [p for p in f.rows(db, m.Proposal) if p.consultation_id == new.id]
    assert sorted(p.title for p in copied) == sorted(f.TITLES[:3])
    assert all(p.status == m.ProposalStatus.published and p.id not in kept and p.description == "Por mes"
               and p.institution_id == ref["inst"]["SEMARNAT"] for p in copied)
    targets = sorted((t.category, t.target) for t in f.rows(db, m.WeightingTarget) if t.consultation_id == new.id)
    assert targets == sorted((code, 1 / len(ref["segments"])) for code in ref["segments"])
    [event] = consultation_events(db, "consultation.clone")
    assert event.object_id == new.id and event.after["previous_id"] == source.id and event.after["carried_proposals"] == 3
    # The source is untouched, and the new round's address must be free.
    assert len([p for p in f.rows(db, m.Proposal) if p.consultation_id == source.id]) == 6 and hidden
    again = post_form(client, f"{BASE}/{source.id}/clone", data)
    assert again.status_code == 422 and 'id="slug-error"' in again.text
    assert len(f.rows(db, m.Consultation)) == 2


def test_clone_form_errors_are_shown_in_place(client, db, staff, open_consultation):
    as_(client, "admin")
    r = post_form(client, f"{BASE}/{open_consultation.id}/clone",
                  {"slug": "Ronda Dos", "opens_at": "2031-02-10T08:00", "closes_at": "2031-01-10T08:00"})
    assert r.status_code == 422 and 'id="slug-error"' in r.text and 'id="closes_at-error"' in r.text
    assert len(f.rows(db, m.Consultation)) == 1


# --- fixed lists -----------------------------------------------------------------------------------------


@pytest.fixture
def fixed(db, ref):
    return f.consultation(db, "lista-fija", phase="upcoming", status=m.ConsultationStatus.draft,
                          proposal_mode=m.ProposalMode.fixed, institution_id=ref["inst"]["SEMARNAT"])


def test_fixed_list_from_the_textarea(client, db, staff, fixed):
    as_(client, "admin")
    assert client.get(f"{BASE}/{fixed.id}/proposals").status_code == 200
    text = "Calidad del aire por estación | Lecturas cada hora\n\n  Contratos de compras públicas  \n"
    r = post_form(client, f"{BASE}/{fixed.id}/proposals", {"titles": text})
    assert r.status_code == 303 and r.headers["location"] == f"{BASE}/{fixed.id}/proposals?loaded=2"
    stored = sorted(f.rows(db, m.Proposal), key=lambda p: p.id)
    assert [(p.title, p.description) for p in stored] == [
        ("Calidad del aire por estación", "Lecturas cada hora"), ("Contratos de compras públicas", "")]
    assert all(p.from_fixed_list and p.status == m.ProposalStatus.published and p.author_id is None for p in stored)
    [event] = consultation_events(db)
    assert event.action == "consultation.load_proposals" and event.after == {"source": "text", "count": 2}
    page = client.get(f"{BASE}/{fixed.id}/proposals")
    assert 'id="fixed-list"' in page.text and "Contratos de compras públicas" in page.text
    again = post_form(client, f"{BASE}/{fixed.id}/proposals", {"titles": "Otra propuesta nueva\nContratos de compras públicas"})
    assert again.status_code == 422 and len(f.rows(db, m.Proposal)) == 2  # already there: nothing added


def test_fixed_list_with_a_bad_line_stores_nothing(client, db, staff, fixed):
    as_(client, "admin")
    r = post_form(client, f"{BASE}/{fixed.id}/proposals", {"titles": "Una propuesta válida\nMal\nOtra propuesta válida"})
    assert r.status_code == 422 and 'id="list-report"' in r.text
    assert '<td class="num">2</td><td>title</td>' in r.text
    assert "Otra propuesta válida" in r.text  # the textarea comes back as it was sent
    assert f.rows(db, m.Proposal) == [] and consultation_events(db) == []


def test_fixed_list_from_a_csv_with_bom_institution_and_topic(client, db, staff, ref, fixed):
    as_(client, "admin")
    content = ("title,description,institution,topic\n"
               "Calidad del aire por estación,\"Lecturas, cada hora\nen varias líneas\",semarnat,ENVIRONMENT\n"
               "Contratos de compras públicas,,,\n").encode("utf-8-sig")
    r = upload(client, fixed.id, content)
    assert r.status_code == 303, r.text
    stored = sorted(f.rows(db, m.Proposal), key=lambda p: p.id)
    assert [p.title for p in stored] == ["Calidad del aire por estación", "Contratos de compras públicas"]
    assert stored[0].description == "Lecturas, cada hora\nen varias líneas"
    assert stored[0].institution_id == ref["inst"]["SEMARNAT"] and stored[0].topic_id == ref["topics"]["environment"]
    assert stored[1].institution_id is None and all(p.from_fixed_list for p in stored)
    assert consultation_events(db)[0].after == {"source": "csv", "count": 2}


def test_csv_with_a_missing_column_is_refused_with_a_report(client, db, staff, fixed):
    as_(client, "admin")
    r = upload(client, fixed.id, b"title,institution\nCalidad del aire por estacion,SEMARNAT\n")
    assert r.status_code == 422 and 'id="list-report"' in r.text
    assert '<td class="num">1</td><td>description</td>' in r.text
    assert f.rows(db, m.Proposal) == []


def test_csv_with_bad_lines_stores_nothing_and_reports_each_line(client, db, staff, fixed):
    as_(client, "admin")
    content = ("title,description,institution,topic\n"
               "Calidad del aire por estación,,SEMARNAT,\n"
               "Mal,,,\n"
               "Contratos de compras públicas,,NOEXISTE,\n"
               "Escuelas públicas por grado,,,no-such-topic\n").encode()
    r = upload(client, fixed.id, content)
    assert r.status_code == 422
    for line, column in ((3, "title"), (4, "institution"), (5, "topic")):
        assert f'<td class="num">{line}</td><td>{column}</td>' in r.text
    assert '<td class="num">2</td>' not in r.text
    assert f.rows(db, m.Proposal) == [] and consultation_events(db) == []


def test_csv_upload_without_a_file_or_not_utf8_is_refused(client, db, staff, fixed):
    as_(client, "admin")
    assert upload(client, fixed.id, b"", name="").status_code == 422
    r = upload(client, fixed.id, "title,description\nAcción pública,\n".encode("latin-1"))
    assert r.status_code == 422 and '<td class="num">2</td>' in r.text
    assert f.rows(db, m.Proposal) == []


def test_csv_route_accepts_up_to_two_megabytes(client, db, staff, fixed):
    as_(client, "admin")
    lines = [f"Conjunto de datos de prueba número {i:06d},{'x' * 200}" for i in range(forms.MAX_ITEMS - 1)]
    big = ("title,description\n" + "\n".join(lines) + "\nMal,\n").encode()
    assert 1_000_000 < len(big) < 2_000_000
    r = upload(client, fixed.id, big)
    assert r.status_code == 422 and f'<td class="num">{len(lines) + 2}</td>' in r.text  # read, checked, refused
    too_big = upload(client, fixed.id, b"title,description\n" + b"x" * 2_100_000)
    assert too_big.status_code == 413
    assert f.rows(db, m.Proposal) == []
    many = forms.parse_fixed_text("\n".join(f"Propuesta número {i}" for i in range(forms.MAX_ITEMS + 1)))
    assert [(p.line, p.column) for p in many.problems] == [(forms.MAX_ITEMS + 1, "")]


# --- pure parsing ------------------------------------------------------------------------------------


def test_datetime_local_is_central_mexico_time():
    assert forms.parse_local("2026-07-01T12:00") == datetime(2026, 7, 1, 18, tzinfo=timezone.utc)
    assert forms.format_local(datetime(2026, 7, 1, 18, tzinfo=timezone.utc)) == "2026-07-01T12:00"
    assert forms.parse_local("2026-07-01T12:00+02:00") is None and forms.parse_local("1 de julio") is None


def test_csv_parsing_accepts_semicolons_and_reports_unknown_columns():
    ok = forms.parse_fixed_csv("Title;Description\nPrecios de gasolina por estación;Diarios\n".encode(), {}, {})
    assert ok.valid and ok.items[0].title == "Precios de gasolina por estación" and ok.items[0].description == "Diarios"
    bad = forms.parse_fixed_csv(b"titulo,description\nAlgo que sirva,\n", {}, {})
    assert {(p.line, p.column) for p in bad.problems} == {(1, "title"), (1, "titulo")}
    dup = forms.parse_fixed_text("Calidad del aire\n calidad  DEL aire ")
    assert [(p.line, p.column) for p in dup.problems] == [(2, "title")]
