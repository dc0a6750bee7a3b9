"""The audit log for central administrators: access, filters, pagination and compact diffs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from idmx.audit import record
from idmx.db import models as m
from idmx.moderation.services import changes
from idmx.staff import forms as audit_forms
from idmx.staff import services as audit_log
from tests.staff.test_moderation import as_, institution_id, staff  # noqa: F401 - the fixture is used by name


def add_event(db, *, at: datetime, actor_id=None, institution=None, action="proposal.edit", obj=("proposal", 1),
              before=None, after=None, note="") -> int:
    with db.write() as s:
        record(s, actor_id=actor_id, action=action, obj=obj, institution_id=institution, before=before, after=after,
               public_note=note)
        s.flush()
        event = s.scalar(select(m.AuditEvent).order_by(m.AuditEvent.id.desc()).limit(1))
        event.at = at
        return event.id


@pytest.fixture
def log(db, staff):  # noqa: F811
    semarnat, inegi = institution_id(db, "SEMARNAT"), institution_id(db, "INEGI")
    day = datetime(2026, 3, 10, 18, tzinfo=timezone.utc)  # noon in Mexico City
    ids = {
        "edit": add_event(db, at=day, actor_id=staff["moderator"], institution=semarnat, action="proposal.edit",
                          obj=("proposal", 7), before={"title": "Calidad del aire", "topic_id": None},
                          after={"title": "Calidad del aire por hora", "topic_id": None}, note="Editada por moderación"),
        "hide": add_event(db, at=day + timedelta(days=1), actor_id=staff["moderator"], institution=semarnat,
                          action="proposal.hide", obj=("proposal", 8), before={"status": "published"},
                          after={"status": "hidden", "hidden_reason": "Spam"}),
        "other": add_event(db, at=day + timedelta(days=2), actor_id=staff["other"], institution=inegi,
                           action="report.dismiss", obj=("proposal_report", 3)),
    }
    return ids


def event_ids(text: str) -> set[int]:
    import re

    return {int(x) for x in re.findall(r'data-event="(\d+)"', text)}


def test_only_central_administrators_browse_the_log(client, log):
    r = client.get("/staff/audit", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/staff/login")
    for who in ("moderator", "admin"):
        as_(client, who)
        assert client.get("/staff/audit").status_code == 403
    as_(client, "central")
    r = client.get("/staff/audit")
    assert r.status_code == 200 and set(log.values()) <= event_ids(r.text)


def test_filters_by_actor_institution_action_type_object_and_dates(client, db, staff, log):  # noqa: F811
    as_(client, "central")

    def found(**params) -> set[int]:
        r = client.get("/staff/audit", params=params)
        assert r.status_code == 200, params
        return event_ids(r.text) & set(log.values())

    assert found(actor=staff["moderator"]) == {log["edit"], log["hide"]}
    assert found(institution=institution_id(db, "INEGI")) == {log["other"]}
    assert found(action="proposal.hide") == {log["hide"]}
    assert found(object_type="proposal_report") == {log["other"]}
    assert found(object_type="proposal", object_id=7) == {log["edit"]}
    assert found(**{"from": "2026-03-11", "to": "2026-03-11"}) == {log["hide"]}
    assert found(**{"from": "2026-03-11"}) == {log["hide"], log["other"]}
    assert found(**{"to": "2026-03-10"}) == {log["edit"]}
    assert found(actor="system") == set()  # the staff fixture's account creations are the system's
    assert found(institution="central") == set()


def test_invalid_filters_are_marked_in_place(client, log):
    as_(client, "central")
    r = client.get("/staff/audit", params={"from": "10/03/2026", "actor": "drop table", "object_id": "x"})
    assert r.status_code == 422
    for name in ("from", "actor", "object_id"):
        assert f'id="{name}-error"' in r.text
    assert set(log.values()) <= event_ids(r.text)  # the invalid filters are left out
    r = client.get("/staff/audit", params={"from": "2026-03-12", "to": "2026-03-10"})
    assert r.status_code == 422 and 'id="to-error"' in r.text


def test_each_event_shows_a_compact_diff(client, log):
    as_(client, "central")
    r = client.get("/staff/audit", params={"action": "proposal.edit"})
    assert "<del>Calidad del aire</del> → <ins>Calidad del aire por hora</ins>" in r.text
    assert "<code>topic_id</code>" not in r.text  # unchanged fields are left out


def test_htmx_filtering_returns_the_events_only_and_pages(client, db, log):
    for i in range(audit_log.PAGE_SIZE + 5):
        add_event(db, at=datetime(2025, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=i), action="bulk.test",
                  obj=("proposal", 1000 + i))
    as_(client, "central")
    r = client.get("/staff/audit", params={"action": "bulk.test"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and r.text.lstrip().startswith('<div id="audit-events"')
    # A fragment varies with HX-Request (and, compressed, with Accept-Encoding).
    assert "HX-Request" in r.headers["vary"].split(",") and 'data-total="55"' in r.text
    assert len(event_ids(r.text)) == audit_log.PAGE_SIZE and 'rel="next"' in r.text
    second = client.get("/staff/audit?action=bulk.test&page=2")
    assert len(event_ids(second.text)) == 5 and 'rel="prev"' in second.text
    assert not event_ids(second.text) & event_ids(r.text)
    assert 'href="/staff/audit?action=bulk.test&amp;page=1"' in second.text


def test_changes_lists_only_what_differs():
    assert changes({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": None}) == [("b", 2, 3)]
    assert changes(None, {"title": "x"}) == [("title", None, "x")]
    assert changes({"title": "x"}, None) == [("title", "x", None)]
    assert changes(None, None) == []


def test_parse_filters_reads_dates_in_mexico_city_time():
    f = audit_forms.parse_filters({"from": "2026-03-10", "to": "2026-03-10", "page": "0"})
    assert f.page == 1 and not f.errors
    start, end = audit_log._conditions(f)[0].right.value, audit_log._conditions(f)[1].right.value
    assert start == datetime(2026, 3, 10, 6, tzinfo=timezone.utc) and end == datetime(2026, 3, 11, 6, tzinfo=timezone.utc)
