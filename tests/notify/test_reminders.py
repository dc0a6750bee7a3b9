"""Deadline notices: the worker's ``reminders`` job queues them, the ``outbox`` job delivers them to a real
SMTP server, each once per item, kind and deadline (SQLite and PostgreSQL); and the staff page of what is due."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from idmx import clock, i18n, worker
from idmx.accounts.services import create_user
from idmx.db import models as m
from idmx.notify import links
from idmx.plans import policy
from idmx.plans import services as items
from idmx.reminders import messages, rules
from idmx.reminders import services as reminders
from tests.accounts.test_auth import PASSWORD, login
from tests.plans.days import official_days

TITLE = "Calidad del aire por estación"
# Monday 5 April 2027, midday in Mexico City: a working day far from any official one.
START = datetime(2027, 4, 5, 12, tzinfo=clock.MEXICO_CITY)


@pytest.fixture
def people(db):
    return {
        "admin": create_user(db, "admin@semarnat.gob.mx", PASSWORD, m.Role.institution_admin, "SEMARNAT"),
        "moderator": create_user(db, "mod@semarnat.gob.mx", PASSWORD, m.Role.institution_moderator, "SEMARNAT"),
        "gone": create_user(db, "antes@semarnat.gob.mx", PASSWORD, m.Role.institution_admin, "SEMARNAT"),
        "other": create_user(db, "admin@inegi.gob.mx", PASSWORD, m.Role.institution_admin, "INEGI"),
        "central": create_user(db, "central@idmx.gob.mx", PASSWORD, m.Role.central_admin, None),
    }


@pytest.fixture
def plan(db, people):
    with db.write() as s:
        s.execute(update(m.StaffUser).where(m.StaffUser.id == people["gone"]).values(is_active=False))
        semarnat = s.scalar(select(m.Institution.id).where(m.Institution.acronym == "SEMARNAT"))
        inegi = s.scalar(select(m.Institution.id).where(m.Institution.acronym == "INEGI"))
        today = clock.local_date(START)
        own = items.create_item(s, institution_id=semarnat, source=m.PlanSource.own, title=TITLE, today=today)
        other = items.create_item(s, institution_id=inegi, source=m.PlanSource.own, title="Censo por localidad",
                                  today=today)
        s.add(m.Follow(plan_item_id=own.id, email="sigo@example.mx", token_hash="f" * 64, language="en",
                       confirmed_at=START))
        return {"own": own.id, "other": other.id, "answer_by": own.answer_by}


def day_with(left: int, deadline: date) -> datetime:
    """Midday of the day on which `left` business days remain before `deadline`."""
    day = clock.local_date(START)
    while rules.business_days_left(deadline, day, official_days()) != left or not policy.is_business_day(day, official_days()):
        day += timedelta(days=1)
        assert day < deadline
    return datetime(day.year, day.month, day.day, 12, tzinfo=clock.MEXICO_CITY)


def staff_subject(kind: str, title: str = TITLE) -> str:
    token = i18n.activate("es")
    try:
        return messages.staff_subject(kind, title)
    finally:
        i18n.deactivate(token)


def mails(smtp) -> list[tuple[str, str]]:
    return [(r["to"][0], r["msg"]["Subject"]) for r in smtp.messages]


def run(db, settings, smtp) -> dict:
    queued = worker.send_reminders(db, settings)
    worker.send_outbox(db, settings.with_(smtp_url=smtp.url))
    return queued


def test_each_notice_reaches_the_institution_once_and_followers_hear_of_the_overdue(db, settings, smtp, plan):
    deadline = plan["answer_by"]
    with clock.frozen(START) as frozen:
        assert run(db, settings, smtp) == {"assigned": 2}
        assert run(db, settings, smtp) == {}
        frozen.set(day_with(10, deadline))
        assert run(db, settings, smtp) == {"due_10": 2}
        frozen.advance(timedelta(hours=3))
        assert run(db, settings, smtp) == {}
        frozen.set(day_with(3, deadline))
        assert run(db, settings, smtp) == {"due_3": 2}
        frozen.set(datetime(deadline.year, deadline.month, deadline.day, 23, tzinfo=clock.MEXICO_CITY))
        assert run(db, settings, smtp) == {}  # the deadline day itself is still in time
        frozen.advance(timedelta(days=1))
        assert run(db, settings, smtp) == {"overdue": 2, "followers": 1}
        frozen.advance(timedelta(days=30))
        assert run(db, settings, smtp) == {}

    to_admin = [subject for to, subject in mails(smtp) if to == "admin@semarnat.gob.mx"]
    assert to_admin == [staff_subject(k) for k in ("assigned", "due_10", "due_3", "overdue")]
    assert [to for to, _ in mails(smtp)].count("admin@inegi.gob.mx") == 4
    recipients = {to for to, _ in mails(smtp)}
    assert "mod@semarnat.gob.mx" not in recipients and "antes@semarnat.gob.mx" not in recipients
    (follower,) = [r["msg"] for r in smtp.messages if r["to"] == ["sigo@example.mx"]]
    assert TITLE in follower["Subject"]
    body = follower.get_content()
    assert links.item_path(plan["own"]) in body and "/follows/unsubscribe/" in body
    admin_overdue = [r["msg"] for r in smtp.messages if r["to"] == ["admin@semarnat.gob.mx"]][-1]
    assert f"/staff/plan/{plan['own']}" in admin_overdue.get_content()
    with db.read() as s:
        stored = s.execute(select(m.PlanReminder.kind, m.PlanReminder.deadline, m.PlanReminder.recipients)
                           .where(m.PlanReminder.plan_item_id == plan["own"]).order_by(m.PlanReminder.id)).all()
    assert stored == [(k, deadline, 1) for k in ("assigned", "due_10", "due_3", "overdue")]


def test_a_worker_that_was_down_sends_only_the_tightest_notice(db, settings, smtp, plan):
    with clock.frozen(day_with(2, plan["answer_by"])):
        assert run(db, settings, smtp) == {"assigned": 2, "due_3": 2}
    assert staff_subject("due_10") not in {subject for _, subject in mails(smtp)}


def test_a_commitment_is_a_new_deadline_and_a_published_item_gets_nothing(db, settings, smtp, plan):
    with clock.frozen(START) as frozen:
        run(db, settings, smtp)
        due = policy.add_business_days(clock.local_date(START), 15, official_days())
        with db.write() as s:
            items.apply_move(s, s.get(m.PlanItem, plan["own"]),
                             lambda a: policy.commit(a, due, clock.today(), off_days=official_days()), actor_id=None)
            items.apply_move(s, s.get(m.PlanItem, plan["other"]),
                             lambda a: policy.publish(a, "https://datos.gob.mx/censo.csv", clock.today()), actor_id=None)
        frozen.set(day_with(10, due))
        assert run(db, settings, smtp) == {"due_10": 1}
        frozen.set(datetime(due.year, due.month, due.day, 12, tzinfo=clock.MEXICO_CITY) + timedelta(days=1))
        assert run(db, settings, smtp) == {"overdue": 1, "followers": 1}
    with db.read() as s:
        kinds = s.execute(select(m.PlanReminder.kind, m.PlanReminder.deadline)
                          .where(m.PlanReminder.plan_item_id == plan["own"]).order_by(m.PlanReminder.id)).all()
    assert kinds == [("assigned", plan["answer_by"]), ("due_10", due), ("overdue", due)]
    overdue_mail = [r["msg"] for r in smtp.messages if r["to"] == ["admin@semarnat.gob.mx"]][-1]
    assert overdue_mail["Subject"] == staff_subject("overdue")


def test_the_database_refuses_a_second_identical_notice(db, plan):
    with db.write() as s:
        s.add(m.PlanReminder(plan_item_id=plan["own"], kind="due_3", deadline=plan["answer_by"], recipients=1))
    with pytest.raises(IntegrityError), db.write() as s:
        s.add(m.PlanReminder(plan_item_id=plan["own"], kind="due_3", deadline=plan["answer_by"], recipients=1))
    with pytest.raises(IntegrityError), db.write() as s:
        s.add(m.PlanReminder(plan_item_id=plan["own"], kind="soon", deadline=plan["answer_by"], recipients=1))


def test_two_workers_at_once_queue_each_notice_once(db, plan):
    results: list[dict] = []
    with clock.frozen(day_with(2, plan["answer_by"])):
        threads = [threading.Thread(target=lambda: results.append(reminders.send_due_notices(db))) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sum(r.get("due_3", 0) for r in results) == 2 and sum(r.get("assigned", 0) for r in results) == 2
    with db.read() as s:
        subjects = list(s.scalars(select(m.OutboxMessage.subject).where(m.OutboxMessage.to_email == "admin@semarnat.gob.mx")))
    assert sorted(subjects) == sorted([staff_subject("assigned"), staff_subject("due_3")])


def test_the_due_page_shows_each_institution_its_own_and_the_central_team_all(client, db, plan):
    with clock.frozen(day_with(3, plan["answer_by"])):
        login(client, "admin@semarnat.gob.mx")
        own = client.get("/staff/due/")
        assert own.status_code == 200
        assert TITLE in own.text and "Censo por localidad" not in own.text
        assert f'href="/staff/plan/{plan["own"]}"' in own.text
        client.post("/staff/logout", data={"_csrf_token": client.cookies.get("idmx_csrf")},
                    headers={"x-csrftoken": client.cookies.get("idmx_csrf")})
        login(client, "central@idmx.gob.mx")
        every = client.get("/staff/due/")
        assert TITLE in every.text and "Censo por localidad" in every.text
    with clock.frozen(START):
        assert "Censo por localidad" not in client.get("/staff/due/").text  # 20 business days away: not due yet


def _sign_out(client):
    client.post("/staff/logout", data={"_csrf_token": client.cookies.get("idmx_csrf")},
                headers={"x-csrftoken": client.cookies.get("idmx_csrf")})


def test_the_dashboard_leads_with_what_is_due(client, db, plan):
    with clock.frozen(day_with(3, plan["answer_by"])):
        login(client, "admin@semarnat.gob.mx")
        own = client.get("/staff/")
        assert own.status_code == 200 and 'id="due-summary"' in own.text
        assert own.text.index('id="due-summary"') < own.text.index(">Consultas</h2>")  # before the consultations
        assert f'href="/staff/plan/{plan["own"]}"' in own.text and "Censo por localidad" not in own.text
        words = " ".join(own.text.split())
        assert "0 partidas del plan están vencidas. 1 partida del plan vence en los próximos diez días hábiles." in words
        assert "responder a más tardar el 3 de mayo de 2027; quedan 3 días hábiles" in words
        assert 'href="/staff/due"' in own.text
        _sign_out(client)
        login(client, "central@idmx.gob.mx")
        every = client.get("/staff/")
        assert TITLE in every.text and "Censo por localidad" in every.text and "(SEMARNAT)" in every.text
        _sign_out(client)
        login(client, "mod@semarnat.gob.mx")  # moderators keep no plan: no due list, no link to one
        moderator = client.get("/staff/")
        assert moderator.status_code == 200 and 'id="due-summary"' not in moderator.text
        _sign_out(client)
    with clock.frozen(datetime.combine(plan["answer_by"] + timedelta(days=1), datetime.min.time(),
                                       tzinfo=clock.MEXICO_CITY).replace(hour=12)):
        login(client, "admin@semarnat.gob.mx")
        late = " ".join(client.get("/staff/").text.split())
        assert "1 partida del plan está vencida." in late and "vencida desde" in late
    with clock.frozen(START):  # 20 business days away: nothing due yet
        assert "Nada vence en los próximos diez días hábiles." in client.get("/staff/").text


def test_the_worker_lists_the_new_jobs(db, settings):
    names = [job.name for job in worker.JOBS]
    assert {"reminders", "publications", "snapshots", "outbox"} <= set(names)
