"""The background worker: what runs outside requests, on a schedule (APScheduler).

    idmx worker            # a process of its own (production: beside the app processes)
    idmx serve             # on the embedded default, starts one worker beside the server

Jobs are idempotent functions of the database's state, so a missed or repeated run does no harm and
nothing is lost when the worker restarts: each run computes what is due now.

* ``rankings`` (every minute): stores the runs that results pages show (`ranking.services.refresh_due`):
  the final run of every consultation that closed, and a fresh run of every live one every few minutes.
  Pages never compute a ranking themselves.
  Just before, the consultation's suspicious respondents are flagged, so the run without them is current;
  just after, the intervals of the new runs' ranks are stored (`ranking.services.store_rank_intervals`:
  a second of simulation for a national run that no visitor should wait for).
* ``flags`` (every 5 minutes): flags the fast and patterned respondents of open consultations
  (`ranking.flags`), for the staff moderation view.
* ``comparisons`` (every 30 s): recounts how often each proposal of an open pairwise consultation was
  compared, which the pair chooser favours (votes never update a counter: `consultations.services`).
* ``counters`` (hourly, without Redis): forgets rate-limit windows that ended long ago.
* ``outbox`` (every 30 s, when IDMX_SMTP_URL is set): sends the queued e-mails (`notify.services`): each
  claimed in a committed transaction, sent outside any, retried with backoff.
* ``reminders`` (every 15 minutes): queues the deadline notices to institutions (item assigned, due in
  10 and in 3 business days, overdue) and tells followers when an item becomes overdue
  (`reminders.services`); each notice once per item, kind and deadline (a unique row).
* ``publications`` (every minute): fetches each newly published dataset address, and re-checks every
  published address once a day (`verification.services`); a broken one reopens its item.
* ``snapshots`` (hourly): stores today's compliance figures per institution once a day
  (`monitoring.services.take_snapshot`), for the scorecards' history.

The scheduler runs each job in its own thread with at most one instance at a time (``max_instances``),
and folds missed runs into one (``coalesce``). Job failures are logged with the job's name and retried
at the next tick.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler

from idmx import clock
from idmx.consultations import services as consultations
from idmx.counters import SqlCounters
from idmx.db import Database
from idmx.monitoring import services as compliance
from idmx.notify import services as outbox
from idmx.ranking import flags
from idmx.ranking import services as rankings
from idmx.reminders import services as reminders
from idmx.settings import Settings
from idmx.verification import services as publications

log = logging.getLogger("idmx.worker")


@dataclass(frozen=True)
class Job:
    name: str
    every_s: float
    run: Callable[[Database, Settings], object]
    enabled: Callable[[Settings], bool] = lambda settings: True


def refresh_rankings(db: Database, settings: Settings) -> object:
    done = rankings.refresh_due(db, clock.now(), prepare=flags.flag_consultation)
    for job, run_id in done:
        log.info("ranking %s: %s", job.slug, f"run {run_id}" if run_id is not None else "nothing to rank yet")
    rankings.store_rank_intervals(db)
    return done


def flag_suspicious(db: Database, settings: Settings) -> object:
    found = flags.flag_open(db, clock.now())
    for cid, kinds in found.items():
        if any(kinds.values()):
            log.info("consultation %s: suspicious respondents %s", cid, kinds)
    return found


def recount_comparisons(db: Database, settings: Settings) -> object:
    return consultations.recount_comparisons(db, clock.now())


def purge_counters(db: Database, settings: Settings) -> object:
    return SqlCounters(db).purge()


def send_outbox(db: Database, settings: Settings) -> object:
    report = outbox.send_pending(db, settings)
    if report.sent or report.failed or report.error:
        log.info("outbox: %s", report)
    return report


def send_reminders(db: Database, settings: Settings) -> object:
    queued = reminders.send_due_notices(db)
    if queued:
        log.info("reminders: %s", queued)
    return queued


def check_publications(db: Database, settings: Settings) -> object:
    done = publications.check_due(db, settings)
    if done:
        log.info("publication checks: %s", done)
    return done


def take_snapshot(db: Database, settings: Settings) -> object:
    return compliance.take_snapshot(db)


JOBS: tuple[Job, ...] = (
    Job("rankings", 60, refresh_rankings),
    Job("flags", 300, flag_suspicious),
    Job("comparisons", 30, recount_comparisons),
    Job("counters", 3600, purge_counters, enabled=lambda settings: not settings.redis_url),
    Job("outbox", 30, send_outbox, enabled=lambda settings: bool(settings.smtp_url)),
    Job("reminders", 900, send_reminders),
    Job("publications", 60, check_publications),
    Job("snapshots", 3600, take_snapshot),
)


def _guarded(job: Job, db: Database, settings: Settings) -> Callable[[], None]:
    def run() -> None:
        try:
            job.run(db, settings)
        except Exception:  # one failed run must not stop the schedule; it is retried at the next tick
            log.exception("job %s failed", job.name)

    return run


def scheduler(db: Database, settings: Settings, jobs: tuple[Job, ...] = JOBS) -> BlockingScheduler:
    sched = BlockingScheduler(executors={"default": ThreadPoolExecutor(max_workers=2)}, timezone="UTC")
    for job in jobs:
        if job.enabled(settings):
            sched.add_job(_guarded(job, db, settings), "interval", seconds=job.every_s, id=job.name, name=job.name,
                          max_instances=1, coalesce=True, next_run_time=clock.now())
    return sched


def run(settings: Settings) -> None:
    """Run the schedule until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    db = Database(settings.database_url, pool_size=3, max_overflow=2)
    sched = scheduler(db, settings)

    def stop(signum: int, _frame: object) -> None:
        log.info("worker stopping (signal %s)", signum)
        sched.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker started: %s", ", ".join(job.id for job in sched.get_jobs()))
    try:
        sched.start()
    finally:
        db.dispose()
