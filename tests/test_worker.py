"""The background worker: it stores the runs results pages show, and `idmx worker` stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, insert, select

from idmx import worker
from idmx.db import models as m
from tests import factories as f
from tests.notify.conftest import Recorder, _free_port
from tests.ranking.test_results_pages import _votes


def _runs(db) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(m.RankingRun)) or 0


def _closed_with_votes(db):
    c = f.consultation(db, phase="closed")
    ids = f.proposals(db, c.id, ["Calidad del aire por estación", "Escuelas públicas"])
    _votes(db, c, ids, [("journalists", {0: True, 1: False}), ("public_officials", {0: False, 1: True})])
    return c


def test_the_rankings_job_stores_each_final_run_once(db, settings):
    c = _closed_with_votes(db)
    done = worker.refresh_rankings(db, settings)
    assert [(job.slug, job.final) for job, run_id in done if run_id] == [(c.slug, True)]
    assert worker.refresh_rankings(db, settings) == [] and _runs(db) == 1
    # With the intervals of its ranks, so that no visitor waits for them.
    (stored,) = f.rows(db, m.RunRankIntervals)
    (run,) = f.rows(db, m.RankingRun)
    assert stored.run_id == run.id and len(stored.low) == len(run.results) == 2


def test_the_rankings_job_flags_scripted_respondents_first_and_stores_the_run_without_them(db, settings):
    c = _closed_with_votes(db)
    ids = f.proposals(db, c.id, [f"Conjunto {k}" for k in range(10)])
    with db.write() as s:
        bot = m.Respondent(consultation_id=c.id, token_hash="b" * 64)
        s.add(bot)
        s.flush()
        s.execute(insert(m.Exposure), [{"respondent_id": bot.id, "proposal_id": p, "consultation_id": c.id} for p in ids])
        s.execute(insert(m.Vote), [{"consultation_id": c.id, "proposal_id": p, "respondent_id": bot.id, "value": 1,
                                    "cast_at": c.opens_at} for p in ids])  # ten answers in the same instant
    worker.refresh_rankings(db, settings)
    (flag,) = f.rows(db, m.RespondentFlag)
    assert (flag.respondent_id, flag.kind, flag.detail) == (bot.id, "fast", "answers=10,seconds=0.00")
    stored = {run.excludes_flagged: run.summary for run in f.rows(db, m.RankingRun)}
    assert stored[False]["respondents"] == 3 and stored[False]["flagged_respondents"] == 1
    assert stored[True]["respondents"] == 2 and stored[True]["excluded_respondents"] == 1


def test_the_worker_process_computes_due_runs_and_stops_on_sigterm(db, tmp_path):
    _closed_with_votes(db)
    env = {**os.environ, "IDMX_DATABASE_URL": db.url, "IDMX_ENV": "test", "IDMX_VAR_DIR": str(tmp_path),
           "IDMX_SECRET_KEY": "x" * 40}
    proc = subprocess.Popen([sys.executable, "-m", "idmx", "worker"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while _runs(db) == 0 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert _runs(db) == 1, "the worker stored no run within 60 s"
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert time.monotonic() - started < 15
    finally:
        if proc.poll() is None:
            proc.kill()
        output = proc.communicate()[0]
    assert "worker started: rankings, flags, comparisons, counters" in output


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    handler = Recorder()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    handler.url = f"smtp://127.0.0.1:{controller.port}?from=avisos@datos.gob.mx"  # type: ignore[attr-defined]
    yield handler
    controller.stop()


def test_the_worker_process_sends_an_institution_its_notice_over_smtp(db, tmp_path, smtp):
    """`idmx worker` as deployed: the reminders job queues the notice, the outbox job delivers it."""
    from idmx import clock
    from idmx.accounts.services import create_user
    from idmx.plans import services as items
    from tests.accounts.test_auth import PASSWORD

    create_user(db, "admin@semarnat.gob.mx", PASSWORD, m.Role.institution_admin, "SEMARNAT")
    with db.write() as s:
        semarnat = s.scalar(select(m.Institution.id).where(m.Institution.acronym == "SEMARNAT"))
        items.create_item(s, institution_id=semarnat, source=m.PlanSource.own, title="Calidad del aire por estación",
                          today=clock.today())
    env = {**os.environ, "IDMX_DATABASE_URL": db.url, "IDMX_ENV": "test", "IDMX_VAR_DIR": str(tmp_path),
           "IDMX_SECRET_KEY": "x" * 40, "IDMX_SMTP_URL": smtp.url}
    proc = subprocess.Popen([sys.executable, "-m", "idmx", "worker"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90  # the outbox job runs every 30 s
        while not smtp.messages and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        output = proc.communicate()[0]
    assert [r["to"] for r in smtp.messages] == [["admin@semarnat.gob.mx"]], output[-2000:]
    assert "Calidad del aire por estación" in smtp.messages[0]["msg"]["Subject"]
    assert "reminders" in output and "outbox" in output
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(m.PlanReminder)) == 1
