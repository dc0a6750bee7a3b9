"""Ranking at national scale on SQLite and PostgreSQL: time and peak memory of a full ranking run.

Builds a synthetic national consultation in a fresh SQLite file and a fresh PostgreSQL database:

* approval: 100,000 respondents over 6 segments x 32 states (plus a few who skipped a question),
  5,000 proposals (1 % hidden), each respondent shown ~40 proposals (4,000,000 exposures) and
  supporting ~half of them (2,000,000 votes);
* pairwise: 100,000 other respondents, 2,000 proposals, 2,000,000 pairwise votes (5 % "can't decide").

Loading: PostgreSQL through COPY (psycopg ``cursor.copy``, foreign-key triggers off for the load),
SQLite through ``executemany`` in large transactions with ``PRAGMA synchronous=OFF`` (and foreign keys
off, checked afterwards) for the load only.

Each measured run happens in a fresh child process (its peak resident memory, VmHWM, is that
run's alone): the child times the floor, a bare ``SELECT proposal_id, count(*) FROM votes WHERE consultation_id=?
GROUP BY proposal_id`` (the best of one run before and one after), then a full ranking run
(`idmx.ranking.services.run_for_consultation`: reading the tallies the database keeps, input
fingerprint, weights, scores, storing the run) with its breakdown. Each child runs the ranking once
before the measured run: the first run of a process also pays one-off costs of a long-running
server (imports, statement compilation, fresh memory); its time is printed too. Targets: approval run <= 3x the floor, pairwise run
<= 8 s (median of 3), peak memory < 1 GiB.

    python benchmarks/ranking_scale.py                 # full scale, both databases
    python benchmarks/ranking_scale.py --scale 0.05    # quick
    python benchmarks/ranking_scale.py --backend sqlite --keep
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

PG_ADMIN_URL = os.environ.get("IDMX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
GIB = 1024**3
APPROVAL_FLOOR_FACTOR = 3.0
PAIRWISE_SECONDS = 8.0
CAST_AT = "2027-03-01 12:00:00"
SEGMENT_MIX = {  # public officials over-represented, as in the demo
    "public_officials": 0.40, "citizens": 0.20, "academia": 0.12, "private_sector": 0.10,
    "journalists": 0.07, "civil_society": 0.08, None: 0.03,
}


# --- synthetic data ------------------------------------------------------------------------------


def _respondents(rng, n, first_id, cid, segment_ids, state_ids):
    codes = list(SEGMENT_MIX)
    mix = np.array(list(SEGMENT_MIX.values()))
    seg = rng.choice(len(codes), size=n, p=mix / mix.sum())
    seg_id = np.array([segment_ids[c] if c else -1 for c in codes])[seg]
    state_w = rng.gamma(1.2, 1.0, size=len(state_ids))
    st = np.asarray(state_ids)[rng.choice(len(state_ids), size=n, p=state_w / state_w.sum())]
    st = np.where(rng.random(n) < 0.02, -1, st)
    ids = np.arange(first_id, first_id + n)
    return ids, seg_id, st


def synthesize(scale: float, seed: int = 2027):
    """Plain numpy arrays for both consultations (ids assigned here, so loading needs no round trips)."""
    rng = np.random.default_rng(seed)
    n_resp = max(200, int(100_000 * scale))
    n_prop_a = max(50, int(5_000 * scale))
    n_prop_p = max(30, int(2_000 * scale))
    data = {"n_resp": n_resp, "n_prop_a": n_prop_a, "n_prop_p": n_prop_p}

    # approval: ~40 exposures per respondent with popularity skew, ~half supported
    per = 40
    pop = rng.pareto(1.5, n_prop_a) + 1
    cdf = np.cumsum(pop / pop.sum())
    shown = np.minimum(np.searchsorted(cdf, rng.random((n_resp, per + 1))), n_prop_a - 1)
    shown.sort(axis=1)
    keep = np.ones_like(shown, dtype=bool)
    keep[:, 1:] = shown[:, 1:] != shown[:, :-1]
    rows = np.repeat(np.arange(n_resp), per + 1)[keep.ravel()]
    props = shown.ravel()[keep.ravel()]
    # trim to ~40 per respondent on average
    target = n_resp * per
    if len(rows) > target:
        sel = np.sort(rng.choice(len(rows), size=target, replace=False))
        rows, props = rows[sel], props[sel]
    appeal = rng.normal(0, 1, n_prop_a)
    p_support = 1 / (1 + np.exp(-(appeal[props] + rng.normal(0, 1, len(props)))))
    support = rng.random(len(props)) < p_support
    data["exposures"] = (rows, props)
    data["support"] = support
    data["hidden"] = rng.random(n_prop_a) < 0.01

    # pairwise: ~20 comparisons per respondent
    n_pw = int(2_000_000 * scale) if scale < 1 else 2_000_000
    who = np.sort(rng.integers(0, n_resp, n_pw))
    left = rng.integers(0, n_prop_p, n_pw)
    right = (left + rng.integers(1, n_prop_p, n_pw)) % n_prop_p
    # One answer per respondent and unordered pair, as the database keeps (a handful of repeats dropped).
    key = np.stack([who, np.minimum(left, right), np.maximum(left, right)], axis=1)
    first = np.sort(np.unique(key, axis=0, return_index=True)[1])
    who, left, right = who[first], left[first], right[first]
    n_pw = len(who)
    strength = rng.normal(0, 1, n_prop_p)
    p_left = 1 / (1 + np.exp(strength[right] - strength[left]))
    winner = np.where(rng.random(n_pw) < p_left, left, right)
    undecided = rng.random(n_pw) < 0.05
    data["pairwise"] = (who, left, right, winner, undecided)
    return data, rng


# --- loading -------------------------------------------------------------------------------------


def _consultation_row(cid, slug, method):
    return {
        "id": cid, "slug": slug, "title_es": f"Consulta {slug}", "title_en": "", "description_es": "",
        "description_en": "", "institution_id": None, "previous_id": None, "status": "published",
        "voting_method": method, "proposal_mode": "open", "results_visibility": "live",
        "segment_required": False, "opens_at": "2027-01-01 00:00:00", "closes_at": "2027-06-01 00:00:00",
        "created_at": "2027-01-01 00:00:00",
    }


def _tables(data, rng, segment_ids, state_ids):
    """Rows of every table as column arrays, in insertion order."""
    n_resp, n_a, n_p = data["n_resp"], data["n_prop_a"], data["n_prop_p"]
    tables = {}
    tables["consultations"] = [_consultation_row(1, "nacional-2027", "approval"), _consultation_row(2, "pares-2027", "pairwise")]
    # proposals: 1..n_a (approval), n_a+1..n_a+n_p (pairwise)
    pid_a = np.arange(1, n_a + 1)
    pid_p = np.arange(n_a + 1, n_a + n_p + 1)
    status = np.where(data["hidden"], "hidden", "published")
    tables["proposals"] = {
        "id": np.concatenate([pid_a, pid_p]),
        "consultation_id": np.concatenate([np.full(n_a, 1), np.full(n_p, 2)]),
        "status": np.concatenate([status, np.full(n_p, "published")]),
    }
    ra = _respondents(rng, n_resp, 1, 1, segment_ids, state_ids)
    rp = _respondents(rng, n_resp, n_resp + 1, 2, segment_ids, state_ids)
    tables["respondents"] = {
        "id": np.concatenate([ra[0], rp[0]]),
        "consultation_id": np.concatenate([np.full(n_resp, 1), np.full(n_resp, 2)]),
        "segment_id": np.concatenate([ra[1], rp[1]]),
        "state_id": np.concatenate([ra[2], rp[2]]),
    }
    rows, props = data["exposures"]
    tables["exposures"] = {"respondent_id": rows + 1, "proposal_id": pid_a[props], "consultation_id": np.full(len(rows), 1)}
    sup = data["support"]
    tables["votes"] = {
        "id": np.arange(1, int(sup.sum()) + 1),
        "consultation_id": np.full(int(sup.sum()), 1),
        "proposal_id": pid_a[props[sup]],
        "respondent_id": rows[sup] + 1,
        "value": np.ones(int(sup.sum()), dtype=np.int64),
    }
    who, left, right, winner, undecided = data["pairwise"]
    tables["pairwise_votes"] = {
        "id": np.arange(1, len(who) + 1),
        "consultation_id": np.full(len(who), 2),
        "respondent_id": who + n_resp + 1,
        "left_id": pid_p[left],
        "right_id": pid_p[right],
        "winner_id": np.where(undecided, -1, pid_p[winner]),
    }
    return tables


PROPOSAL_CONST = {"description": "", "intended_use": "", "hidden_reason": "", "from_fixed_list": False,
                  "created_at": "2027-01-01 00:00:00"}
RESPONDENT_CONST = {"organisation": "", "use_who": "", "use_purpose": "", "use_benefit": "",
                    "created_at": "2027-01-01 00:00:00", "participated_at": "2027-01-01 00:00:00"}
VOTE_CONST = {"cast_at": CAST_AT}
LOAD_ORDER = ("proposals", "respondents", "exposures", "votes", "pairwise_votes")


def _chunks(name, cols, chunk=200_000):
    """Column names and chunks of row tuples for one table (-1 in an id column means NULL)."""
    const = {"proposals": PROPOSAL_CONST, "respondents": RESPONDENT_CONST, "votes": VOTE_CONST,
             "pairwise_votes": VOTE_CONST}.get(name, {})
    derived = {"proposals": ("title", lambda i: f"Conjunto de datos sintético número {i}"),
               "respondents": ("token_hash", lambda i: f"{i:064x}")}.get(name)
    names = list(cols) + list(const) + ([derived[0]] if derived else [])
    n = len(cols["id"] if "id" in cols else next(iter(cols.values())))
    tail = tuple(const.values())
    nullable = [c in ("segment_id", "state_id", "winner_id") for c in cols]

    def gen():
        for start in range(0, n, chunk):
            parts = []
            for (c, a), null in zip(cols.items(), nullable):
                part = a[start:start + chunk].tolist()
                if null:
                    part = [None if v == -1 else v for v in part]
                parts.append(part)
            if derived:
                parts.append([derived[1](i) for i in parts[0]])
                yield [(*r[:-1], *tail, r[-1]) for r in zip(*parts)]
            else:
                yield [(*r, *tail) for r in zip(*parts)]

    return names, gen()


def load_sqlite(engine, tables):
    raw = engine.raw_connection()
    try:
        con = raw.driver_connection
        # For the load only: no fsync, no per-row foreign-key lookups (the data is consistent by
        # construction), a large page cache for the random index inserts.
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA foreign_keys=OFF")
        con.execute("PRAGMA cache_size=-1000000")
        con.execute("BEGIN")
        for row in tables["consultations"]:
            con.execute(f"INSERT INTO consultations ({','.join(row)}) VALUES ({','.join('?' * len(row))})",
                        list(row.values()))
        for name in LOAD_ORDER:
            names, chunks = _chunks(name, tables[name])
            sql = f"INSERT INTO {name} ({','.join(names)}) VALUES ({','.join('?' * len(names))})"
            for rows in chunks:
                con.executemany(sql, rows)
            con.execute("COMMIT")
            con.execute("BEGIN")
        con.execute("COMMIT")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("PRAGMA foreign_keys=ON")
        con.execute("PRAGMA cache_size=-2000")
        bad = con.execute("PRAGMA foreign_key_check").fetchall()
        assert not bad, bad[:3]
        con.execute("ANALYZE")
    finally:
        raw.close()


def load_postgres(engine, tables):
    raw = engine.raw_connection()
    try:
        con = raw.driver_connection
        with con.cursor() as cur:
            # For the load only: skip the per-row foreign-key triggers (consistent by construction).
            cur.execute("SET session_replication_role = replica")
            for row in tables["consultations"]:
                cur.execute(f"INSERT INTO consultations ({','.join(row)}) VALUES ({','.join(['%s'] * len(row))})",
                            list(row.values()))
            for name in LOAD_ORDER:
                names, chunks = _chunks(name, tables[name])
                with cur.copy(f"COPY {name} ({','.join(names)}) FROM STDIN") as copy:
                    for rows in chunks:
                        for r in rows:
                            copy.write_row(r)
            for table in ("consultations", "proposals", "respondents", "votes", "pairwise_votes"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            cur.execute("SET session_replication_role = DEFAULT")
        con.commit()
        con.autocommit = True
        con.execute("VACUUM ANALYZE")
        con.autocommit = False
    finally:
        raw.close()


def build(url: str, scale: float) -> dict:
    from sqlalchemy import select

    from idmx import migrations, seeding
    from idmx.db import Database
    from idmx.db import models as m

    db = Database(url, pool_size=1, max_overflow=1)
    try:
        migrations.upgrade(db.engine)
        seeding.seed_reference(db)
        with db.read() as s:
            segment_ids = dict(s.execute(select(m.Segment.code, m.Segment.id)).all())
            state_ids = list(s.scalars(select(m.State.id).order_by(m.State.id)))
        t0 = time.perf_counter()
        data, rng = synthesize(scale)
        tables = _tables(data, rng, segment_ids, state_ids)
        t1 = time.perf_counter()
        (load_sqlite if db.is_sqlite else load_postgres)(db.engine, tables)
        t2 = time.perf_counter()
        check_tallies(db, rebuild=not db.is_sqlite)
        t3 = time.perf_counter()
        sizes = {k: (len(v) if isinstance(v, list) else len(next(iter(v.values())))) for k, v in tables.items()}
        return {"synthesize_s": t1 - t0, "load_s": t2 - t1, "tallies_s": t3 - t2, "rows": sizes}
    finally:
        db.dispose()


def check_tallies(db, rebuild: bool) -> None:
    """The vote tallies agree with the rows. SQLite's load went through the triggers; PostgreSQL's
    COPY ran with triggers off (replica mode), so its tallies are rebuilt from the rows first, as
    `idmx.ranking.tallies.rebuild` does after any bulk load that bypasses them."""
    from sqlalchemy import text

    from idmx.ranking import tallies

    with db.write() as s:
        if rebuild:
            for cid in (1, 2):
                tallies.rebuild(s, cid)
        got = s.execute(text("SELECT sum(exposures), sum(n) FROM vote_tallies WHERE consultation_id = 1")).one()
        want = (s.scalar(text("SELECT count(*) FROM exposures WHERE consultation_id = 1")),
                s.scalar(text("SELECT count(*) FROM votes WHERE consultation_id = 1")))
        assert tuple(got) == want, (got, want)
        counted = s.scalar(text("SELECT sum(n_exposures) FROM respondents WHERE consultation_id = 1"))
        assert counted == want[0], (counted, want)
    if rebuild:  # as after any bulk load: the rewritten tables get fresh statistics, dead rows go
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE vote_tallies, cell_respondents, respondents")


# --- measured runs (child process) ---------------------------------------------------------------


FLOOR_SQL = "SELECT proposal_id, count(*) FROM votes WHERE consultation_id = :c GROUP BY proposal_id"


def child(url: str, consultation_id: int, method: str) -> dict:
    from sqlalchemy import text

    from idmx.db import Database
    from idmx.ranking.pipeline import RunParams
    from idmx.ranking.services import run_for_consultation

    db = Database(url, pool_size=1, max_overflow=1)
    try:
        floors = []

        def floor():
            with db.read() as s:
                t = time.perf_counter()
                s.execute(text(FLOOR_SQL), {"c": consultation_id}).all()
                floors.append(time.perf_counter() - t)

        # The first run in a process also pays for imports, statement compilation and fresh memory
        # (one-off costs of a long-running server): timed and reported, but the measured run is
        # the next one, like the floor, which is the best of two.
        t = time.perf_counter()
        run_for_consultation(db, consultation_id, RunParams(method=method))
        first = time.perf_counter() - t
        floor()
        t = time.perf_counter()
        run = run_for_consultation(db, consultation_id, RunParams(method=method))
        total = time.perf_counter() - t
        floor()
        breakdown = dict(run.summary.get("timings_s", {}))
        stages = sum(v for k, v in breakdown.items() if "." not in k)  # compute.* are parts of compute
        breakdown["store and rest"] = total - stages
        return {
            "first_run_s": first,
            "run_s": total,
            "floor_s": min(floors),
            "floors_s": floors,
            "breakdown_s": breakdown,
            "maxrss_bytes": peak_rss(),
            "run_id": run.id,
            "fingerprint": run.fingerprint,
            "n_results": len(run.results),
        }
    finally:
        db.dispose()


def peak_rss() -> int:
    """Peak resident memory of this process in bytes.

    Linux keeps ``ru_maxrss`` across fork and exec, so a child would report its parent's peak (the
    driver holds the synthetic data); the memory map's high-water mark ``VmHWM`` starts afresh at exec.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(url: str, consultation_id: int, method: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", url, str(consultation_id), method],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- driver --------------------------------------------------------------------------------------


def _pg_url(database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg", database=database).render_as_string(
        hide_password=False
    )


def _pg_admin(sql: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(_pg_url(make_url(PG_ADMIN_URL).database or "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(sql))
    admin.dispose()


def _fmt_breakdown(b: dict) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in b.items())


def bench_backend(backend: str, scale: float, repeats: int, keep: bool) -> bool:
    tmp = None
    if backend == "sqlite":
        tmp = tempfile.mkdtemp(prefix="idmx_bench_")
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        label = url
    else:
        label = f"idmx_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        _pg_admin(f'CREATE DATABASE "{label}"')
        url = _pg_url(label)
    ok = True
    try:
        info = build(url, scale)
        rows = info["rows"]
        print(f"[{backend}] built in {info['synthesize_s']:.1f} s (synthesis) + {info['load_s']:.1f} s (load)"
              f" + {info['tallies_s']:.1f} s (tallies {'rebuilt' if backend != 'sqlite' else 'checked'}): "
              f"{rows['respondents']:,} respondents, {rows['proposals']:,} proposals, {rows['exposures']:,} exposures, "
              f"{rows['votes']:,} approval votes, {rows['pairwise_votes']:,} pairwise votes", flush=True)
        for method, cid in (("approval", 1), ("pairwise", 2)):
            results = [measure(url, cid, method) for _ in range(repeats)]
            run_s = statistics.median(r["run_s"] for r in results)
            mid = sorted(results, key=lambda r: r["run_s"])[len(results) // 2]
            floor_s = statistics.median(r["floor_s"] for r in results)
            peak = max(r["maxrss_bytes"] for r in results)
            runs = ", ".join(f"{r['run_s']:.2f}" for r in results)
            firsts = ", ".join(f"{r['first_run_s']:.2f}" for r in results)
            print(f"[{backend}] {method}: run {run_s:.2f} s (median of {repeats}: {runs}; the first run of each"
                  f" process: {firsts}); breakdown of the median run: {_fmt_breakdown(mid['breakdown_s'])}", flush=True)
            mem_ok = peak < GIB
            if method == "approval":
                factor = run_s / floor_s
                time_ok = factor <= APPROVAL_FLOOR_FACTOR
                print(f"[{backend}] approval: floor (bare GROUP BY on votes) {floor_s:.3f} s; run/floor = {factor:.1f}x "
                      f"(target <= {APPROVAL_FLOOR_FACTOR:g}x): {'PASS' if time_ok else 'FAIL'}")
            else:
                time_ok = run_s <= PAIRWISE_SECONDS
                print(f"[{backend}] pairwise: {run_s:.2f} s (target <= {PAIRWISE_SECONDS:g} s): {'PASS' if time_ok else 'FAIL'}")
            print(f"[{backend}] {method}: peak memory {peak / 2**20:.0f} MiB (target < 1024 MiB): {'PASS' if mem_ok else 'FAIL'}"
                  f"; load average {os.getloadavg()[0]:.1f}", flush=True)
            ok = ok and time_ok and mem_ok
    finally:
        if keep:
            print(f"[{backend}] kept {label}")
        elif backend == "sqlite":
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
        else:
            _pg_admin(f'DROP DATABASE IF EXISTS "{label}" WITH (FORCE)')
    return ok


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, url, cid, method = sys.argv
        print(json.dumps(child(url, int(cid), method)))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the national size (default 1)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--repeats", type=int, default=3, help="measured runs per method (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(f"ranking_scale: scale {args.scale:g}, python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    results = {b: bench_backend(b, args.scale, args.repeats, args.keep) for b in backends}
    verdict = all(results.values())
    print("ranking_scale: " + ", ".join(f"{b} {'PASS' if ok else 'FAIL'}" for b, ok in results.items())
          + f" -> {'PASS' if verdict else 'FAIL'}")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
