"""Proposal search and similar-proposal hints at 5,000 proposals, in the database vs. the old in-Python path.

    python benchmarks/search_scale.py                 # SQLite, then PostgreSQL
    python benchmarks/search_scale.py --db sqlite --n 5000 --queries 200

For each database: a temporary SQLite file or a throw-away PostgreSQL database ``idmx_search_bench_<pid>``
(at IDMX_BENCH_POSTGRES_URL), migrated, with one open consultation of N synthetic proposals (the titles of
benchmarks/duplicates_quality.py). Then, for the same queries, in the same run:

* hints: ``consultations.services.similar_proposals`` (what `/c/SLUG/similar` and the check before saving
  call) against the old path, which loaded every published title and built a ``ProposalIndex`` per request;
* search: the browse page's condition (``consultations.queries.matching_condition``, counted with the
  page's other conditions) against the old path, which analysed every title and description per request.

The first search of a consultation analyses its proposals into ``proposal_search`` once; that is timed
apart, and PostgreSQL's statistics are then gathered (``ANALYZE``, as autovacuum would on a live site). Prints p50 and p95 per path and PASS/FAIL against the target (database p95 < 50 ms).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from benchmarks.duplicates_quality import synthetic_titles  # noqa: E402
from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from idmx import clock, migrations  # noqa: E402
from idmx.consultations import queries as search
from idmx.consultations import services  # noqa: E402
from idmx.db import Database  # noqa: E402
from idmx.db import models as m  # noqa: E402
from idmx.matching import HINT_THRESHOLD, ProposalIndex, normalize, terms  # noqa: E402

TARGET_P95_MS = 50.0
PG_URL = os.environ.get("IDMX_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def old_hints(db: Database, cid: int, q: str) -> list:
    with db.read() as s:
        rows = s.execute(select(m.Proposal.id, m.Proposal.title).where(
            m.Proposal.consultation_id == cid, m.Proposal.status == m.ProposalStatus.published)).all()
    return ProposalIndex(rows).search(q, limit=5, threshold=HINT_THRESHOLD, partial=True)


def old_search(db: Database, cid: int, q: str) -> int:
    wanted = terms(q) or frozenset(normalize(q).split())
    with db.read() as s:
        rows = s.execute(select(m.Proposal.id, m.Proposal.title, m.Proposal.description).where(
            m.Proposal.consultation_id == cid, m.Proposal.status == m.ProposalStatus.published))
        ids = [pid for pid, t, d in rows if wanted <= (terms(f"{t} {d}") | set(normalize(f"{t} {d}").split()))]
        return s.scalar(select(func.count()).select_from(m.Proposal).where(m.Proposal.id.in_(ids))) or 0


def new_search(db: Database, cid: int, q: str) -> int:
    search.refresh(db, cid)
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(m.Proposal).where(
            m.Proposal.consultation_id == cid, m.Proposal.status == m.ProposalStatus.published,
            search.matching_condition(s, q))) or 0


def timed(fn: Callable, queries: list[str]) -> tuple[float, float]:
    times = []
    for q in queries:
        start = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def build(db: Database, n: int) -> int:
    migrations.upgrade(db.engine)
    now = clock.now()
    with db.write() as s:
        cid = s.execute(insert(m.Consultation).values(
            slug="bench", title_es="Bench", title_en="Bench", description_es="", description_en="",
            status=m.ConsultationStatus.published, voting_method=m.VotingMethod.approval,
            proposal_mode=m.ProposalMode.open, results_visibility=m.ResultsVisibility.live,
            opens_at=now, closes_at=now.replace(year=now.year + 1), segment_required=False, created_at=now,
        ).returning(m.Consultation.id)).scalar_one()
        rng = random.Random(3)
        rows = [{"consultation_id": cid, "title": t[:200].ljust(5, "."), "description": rng.choice(["", t.lower()]),
                 "status": m.ProposalStatus.published, "created_at": now} for t in synthetic_titles(n)]
        s.execute(insert(m.Proposal), rows)
    return cid


def analyze(db: Database) -> None:
    """PostgreSQL's statistics, as autovacuum keeps them on a live site (a bulk load has none yet)."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))


def queries(count: int) -> tuple[list[str], list[str]]:
    rng = random.Random(9)
    titles = synthetic_titles(count, seed=21)
    hints = [t[: rng.randint(3, len(t))] for t in titles]  # typed so far
    words = [[w for w in normalize(t).split() if len(w) > 3] or ["datos"] for t in titles]
    searches = [" ".join(rng.sample(ws, min(len(ws), rng.choice([1, 1, 2])))) for ws in words]
    return hints, searches


def run(label: str, url: str, n: int, count: int) -> tuple[float, float]:
    db = Database(url, pool_size=2, max_overflow=2)
    try:
        cid = build(db, n)
        start = time.perf_counter()
        analysed = search.refresh(db, cid)
        first = time.perf_counter() - start
        analyze(db)
        hints, searches = queries(count)
        for q in hints[:5]:  # warm caches as a running process would have them
            services.similar_proposals(db, cid, q)
            old_hints(db, cid, q)
        rows = [
            ("hints, database", *timed(lambda q: services.similar_proposals(db, cid, q), hints)),
            ("hints, old (Python)", *timed(lambda q: old_hints(db, cid, q), hints)),
            ("search, database", *timed(lambda q: new_search(db, cid, q), searches)),
            ("search, old (Python)", *timed(lambda q: old_search(db, cid, q), searches)),
        ]
    finally:
        db.dispose()
    print(f"\n{label}: {n} proposals, {count} queries per path; first search analysed {analysed} proposals"
          f" in {first:.2f} s (once)")
    print(f"{'path':24} {'p50 ms':>8} {'p95 ms':>8}")
    for name, p50, p95 in rows:
        print(f"{name:24} {p50:8.1f} {p95:8.1f}")
    worst = max(rows[0][2], rows[2][2])
    print(f"{'PASS' if worst < TARGET_P95_MS else 'FAIL'}: database p95 {worst:.1f} ms (target < {TARGET_P95_MS:.0f} ms);"
          f" hints {rows[1][2] / rows[0][2]:.0f}x and search {rows[3][2] / rows[2][2]:.0f}x faster at p95")
    return rows[0][2], rows[2][2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--n", type=int, default=5000, help="proposals (default 5000)")
    parser.add_argument("--queries", type=int, default=200, help="queries per path (default 200)")
    args = parser.parse_args()
    print(f"cpus {os.cpu_count()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            run("SQLite", f"sqlite:///{tmp}/bench.sqlite3", args.n, args.queries)
    if args.db in ("postgresql", "both"):
        admin_url = make_url(PG_URL).set(drivername="postgresql+psycopg")
        name = f"idmx_search_bench_{os.getpid()}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run("PostgreSQL", admin_url.set(database=name).render_as_string(hide_password=False), args.n, args.queries)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
