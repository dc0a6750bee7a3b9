"""Export of a consultation with 2,000,000 votes as CSV: time and peak memory of the streaming export
against the floor (the same rows written by Python's csv module from a plain in-memory list).

Builds one closed rating consultation (``--votes`` votes from ``--respondents`` respondents over
``--proposals`` proposals; every vote a row of votes.csv) in a fresh SQLite file (default) or, with
``--database-url postgresql://...``, in a throw-away database created on that server and dropped at
the end. Loading: respondents and proposals through SQLAlchemy Core ``insert()`` in batches, votes
through ``executemany`` in one transaction (SQLite, foreign keys off for the load and checked after)
or COPY (PostgreSQL).

Measured in a fresh child process, so that its peak resident memory (VmHWM) is the export's own:
`idmx.exports.services.write_directory`, the whole package (every vote row read once, respondents
protected, the ranking recomputed from the published per-cell statistics, every file written).
The peak includes the interpreter and its imports, printed separately. In the parent, the
floor: the same rows (pseudonym, proposal, value) as a list of tuples in memory, written with
``csv.writer(...).writerows`` (the list is built before the clock starts). Both are run three
times and compared by their medians. Targets: peak memory under 300 MB, export at most 2x the floor.

    python benchmarks/export_scale.py                        # 2,000,000 votes, SQLite
    python benchmarks/export_scale.py --votes 200000         # quick
    python benchmarks/export_scale.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

MB = 1024 * 1024
PEAK_MB = 300
FLOOR_FACTOR = 2.0
REPEATS = 3  # medians: this machine's neighbours make single runs vary by +-20 %
SLUG = "export-bench"
CAST_AT = "2027-03-01 12:00:00"


def peak_rss() -> int:
    """This process's peak resident set size in bytes (VmHWM)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# --- data ------------------------------------------------------------------------------------------------


def synthesize(n_votes: int, n_resp: int, n_prop: int, seed: int = 2027):
    """Votes as arrays: respondent index, proposal index, value. Each respondent rates distinct proposals."""
    rng = np.random.default_rng(seed)
    per = np.full(n_resp, n_votes // n_resp)
    per[: n_votes - per.sum()] += 1
    if per.max() > n_prop:
        raise SystemExit("more votes per respondent than proposals: raise --proposals or --respondents")
    resp = np.repeat(np.arange(n_resp), per)
    j = np.arange(len(resp)) - np.repeat(np.cumsum(per) - per, per)  # position within the respondent
    # stride coprime with n_prop: the first n_prop multiples are distinct modulo n_prop
    strides = np.array([k for k in range(1, 4 * n_prop) if np.gcd(k, n_prop) == 1][:512])
    base = rng.integers(0, n_prop, n_resp)
    stride = strides[rng.integers(0, len(strides), n_resp)]
    prop = (base[resp] + j * stride[resp]) % n_prop
    value = rng.integers(1, 6, len(resp))
    return resp, prop, value


def build(db, n_votes: int, n_resp: int, n_prop: int) -> tuple[int, dict]:
    from sqlalchemy import insert, select

    from idmx import migrations, seeding
    from idmx.db import models as m

    if migrations.is_empty(db.engine):
        migrations.upgrade(db.engine)
    seeding.seed_reference(db)
    now = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    with db.write() as s:
        segs = list(s.scalars(select(m.Segment.id).order_by(m.Segment.id)))
        states = list(s.scalars(select(m.State.id).order_by(m.State.id)))
        c = m.Consultation(slug=f"{SLUG}-{uuid.uuid4().hex[:8]}", title_es="Consulta de prueba de exportación",
                           status=m.ConsultationStatus.published, voting_method=m.VotingMethod.rating,
                           proposal_mode=m.ProposalMode.fixed, opens_at=now - timedelta(days=30),
                           closes_at=now - timedelta(days=1))
        s.add(c)
        s.flush()
        cid = c.id
        for lo in range(0, n_prop, 5_000):
            s.execute(insert(m.Proposal), [{"consultation_id": cid, "title": f"Conjunto de datos número {i}",
                                            "description": f"Descripción del conjunto {i}", "from_fixed_list": True}
                                           for i in range(lo, min(n_prop, lo + 5_000))])
        prop_ids = np.array(list(s.scalars(select(m.Proposal.id).where(m.Proposal.consultation_id == cid).order_by(m.Proposal.id))))
        rng = np.random.default_rng(7)
        seg = rng.integers(0, len(segs), n_resp)
        st = rng.integers(0, len(states), n_resp)
        for lo in range(0, n_resp, 20_000):
            hi = min(n_resp, lo + 20_000)
            s.execute(insert(m.Respondent), [{"consultation_id": cid, "token_hash": f"{cid:08x}{i:056x}",
                                              "segment_id": segs[seg[i]], "state_id": states[st[i]]} for i in range(lo, hi)])
        resp_ids = np.array(list(s.scalars(select(m.Respondent.id).where(m.Respondent.consultation_id == cid).order_by(m.Respondent.id))))
    t1 = time.perf_counter()
    resp, prop, value = synthesize(n_votes, n_resp, n_prop)
    rows = zip(resp_ids[resp].tolist(), prop_ids[prop].tolist(), value.tolist())
    raw = db.engine.raw_connection()
    try:
        con = raw.driver_connection
        if db.is_sqlite:
            con.execute("PRAGMA synchronous=OFF")
            con.execute("PRAGMA foreign_keys=OFF")
            con.execute("BEGIN")
            con.executemany(f"INSERT INTO votes (consultation_id, respondent_id, proposal_id, value, cast_at)"
                            f" VALUES ({cid}, ?, ?, ?, '{CAST_AT}')", rows)
            con.execute("COMMIT")
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute("PRAGMA foreign_keys=ON")
            assert not con.execute("PRAGMA foreign_key_check(votes)").fetchall()
            con.execute("ANALYZE")
        else:
            with con.cursor() as cur:
                with cur.copy("COPY votes (consultation_id, respondent_id, proposal_id, value, cast_at) FROM STDIN") as copy:
                    for r, p, v in rows:
                        copy.write_row((cid, r, p, v, CAST_AT))
            con.commit()
            con.autocommit = True
            con.execute("VACUUM ANALYZE")
            con.autocommit = False
    finally:
        raw.close()
    t2 = time.perf_counter()
    return cid, {"load_people_s": t1 - t0, "load_votes_s": t2 - t1}


# --- the measured export (child process) ------------------------------------------------------------


def child(url: str, slug: str, out: str) -> dict:
    from idmx.db import Database
    from idmx.exports import services as data

    db = Database(url, pool_size=1, max_overflow=1)
    try:
        info = data.package_info(db, slug)  # which consultation (closed?) and its runs: not the export
        before = peak_rss()
        times = []
        for _ in range(REPEATS):  # each a whole package (every file) into the same directory
            data._RANKINGS.clear()  # the full cost every time: no ranking kept from the repeat before
            t = time.perf_counter()
            written = data.write_directory(db, info, out)
            times.append(time.perf_counter() - t)
        peak = peak_rss()
        # Diagnostic: the part that reads every vote row once, protects the respondents and recomputes
        # the ranking from the protected statistics (`idmx.exports.services.published`).
        t = time.perf_counter()
        pub = data.published(db, info, data.published_run(db, info))
        published_s = time.perf_counter() - t
        return {"export_times": times, "peak_rss_bytes": peak, "rss_before_bytes": before,
                "bytes": sum(p.stat().st_size for p in written), "published_s": published_s,
                "residual_risk": data.disclosure_summary(info, pub)["residual_risk"],
                "respondents_risk_before": pub.respondents_protection.risk_before,
                "statistics_rows": len(pub.inputs.stats)}
    finally:
        db.dispose()


def floor(resp, prop, value, out: str) -> list[float]:
    """The same rows with Python's csv module from a plain in-memory list."""
    pseudonym = np.random.default_rng().permutation(int(resp.max()) + 1) + 1
    rows = list(zip(pseudonym[resp].tolist(), prop.tolist(), value.tolist()))
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        with open(out, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\r\n")
            writer.writerow(["respondent_id", "proposal_id", "value"])
            writer.writerows(rows)
        times.append(time.perf_counter() - t)
    return times


# --- driver ------------------------------------------------------------------------------------------------


def _postgres_throwaway(url: str):
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = make_url(url).set(drivername="postgresql+psycopg")
    name = f"idmx_export_bench_{os.getpid()}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    return admin.set(database=name).render_as_string(hide_password=False), drop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--votes", type=int, default=2_000_000)
    parser.add_argument("--respondents", type=int, help="default: votes / 20")
    parser.add_argument("--proposals", type=int, default=2_000)
    parser.add_argument("--database-url", help="default: a temporary SQLite file; PostgreSQL: a throw-away database "
                        "is created on this server and dropped at the end")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file and the CSV files")
    parser.add_argument("--child", nargs=3, metavar=("URL", "SLUG", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0

    from idmx.db import Database

    n_resp = args.respondents or max(1, args.votes // 20)
    tmp = Path(tempfile.mkdtemp(prefix="idmx-export-bench-"))
    drop = None
    url = args.database_url or f"sqlite:///{tmp / 'bench.sqlite3'}"
    if url.startswith("postgresql"):
        url, drop = _postgres_throwaway(url)
    backend = "postgresql" if drop else "sqlite"
    try:
        print(f"export_scale: {args.votes:,} votes, {n_resp:,} respondents, {args.proposals:,} proposals on {backend}; "
              f"cpus={os.cpu_count()} load={os.getloadavg()[0]:.2f}", flush=True)
        db = Database(url, pool_size=1, max_overflow=1)
        try:
            cid, load = build(db, args.votes, n_resp, args.proposals)
            from sqlalchemy import select

            from idmx.db import models as m

            with db.read() as s:
                slug = s.scalar(select(m.Consultation.slug).where(m.Consultation.id == cid))
            from idmx.ranking import services as runs

            t = time.perf_counter()
            runs.run_for_consultation(db, cid)  # the final run the package publishes (not timed as export)
            print(f"ranking run stored in {time.perf_counter() - t:.1f} s", flush=True)
        finally:
            db.dispose()
        print(f"loaded in {load['load_people_s'] + load['load_votes_s']:.1f} s", flush=True)
        out = tmp / "package"
        proc = subprocess.run([sys.executable, __file__, "--child", url, slug, str(out)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        lines = result["statistics_rows"]
        resp, prop, value = synthesize(args.votes, n_resp, args.proposals)
        floor_times = floor(resp, prop, value, str(tmp / "floor.csv"))
        floor_s = statistics.median(floor_times)
        result["export_s"] = statistics.median(result["export_times"])
        peak_mb = result["peak_rss_bytes"] / MB
        ratio = result["export_s"] / floor_s
        print()
        print(f"{'':<34}{'time (s)':>10}{'peak RSS (MB)':>15}{'rows':>12}{'MB written':>12}")
        print(f"{'whole package (child process)':<34}{result['export_s']:>10.2f}{peak_mb:>15.1f}{lines:>12,}"
              f"{result['bytes'] / MB:>12.1f}")
        print(f"{'floor: csv.writer from a list':<34}{floor_s:>10.2f}{'':>15}{args.votes:>12,}"
              f"{(tmp / 'floor.csv').stat().st_size / MB:>12.1f}")
        print(f"{'(read, protect and re-rank)':<34}{result['published_s']:>10.2f}")
        print(f"residual disclosure risk {result['residual_risk']} (respondents before protection: "
              f"{result['respondents_risk_before']:.4f}); statistics.csv rows: {lines:,}")
        print(f"times are medians of {REPEATS}: export {', '.join(f'{x:.2f}' for x in result['export_times'])}; "
              f"floor {', '.join(f'{x:.2f}' for x in floor_times)}")
        print(f"child RSS before exporting (interpreter and imports): {result['rss_before_bytes'] / MB:.1f} MB")
        print(f"ratio export / floor: {ratio:.2f}")
        print(f"peak memory < {PEAK_MB} MB: {'PASS' if peak_mb < PEAK_MB else 'FAIL'}; "
              f"ratio <= {FLOOR_FACTOR:g}: {'PASS' if ratio <= FLOOR_FACTOR else 'FAIL'}")
        return 0
    finally:
        if drop is not None:
            drop()
        if not args.keep:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
