"""Driver models: the measurement behind "synchronous SQLAlchemy in Litestar's thread pool".

One minimal Litestar app per driver model, with a single endpoint that upserts one vote
(`INSERT ... ON CONFLICT (respondent_id, proposal_id) DO UPDATE`) in its own transaction, served by
granian with 1 worker and driven by the same load generator as vote_ingest.py (32 keep-alive
connections, closed loop, --seconds each):

  a  sync SQLAlchemy Core + sqlite3, WAL, busy_timeout, BEGIN IMMEDIATE (idmx.db.engine.make_engine),
     handler in the thread pool
  b  async SQLAlchemy + aiosqlite, same pragmas and BEGIN IMMEDIATE
  c  sync SQLAlchemy Core + psycopg 3 on PostgreSQL (make_engine: pool 20+10, pre-ping), thread pool
  d  async SQLAlchemy + asyncpg on PostgreSQL, pool_size=20 (+10 overflow, pre-ping, like c)

--no-pre-ping runs c and d without pool_pre_ping (one round trip less per request).

Two reference rows measure the framework without a database: a sync handler in the thread pool and
an async handler. Models whose driver is not installed, or PostgreSQL when it is not reachable, are
skipped with a message.

    python benchmarks/driver_models.py                  # every model, 10 s each
    python benchmarks/driver_models.py --models a,b --seconds 5

The same file is also the app granian imports (`driver_models:build_app`, configured by
environment variables), so the app measured is exactly the code below.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _loadgen as lg  # noqa: E402

PG_ADMIN_URL = os.environ.get("IDMX_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
CONCURRENCY = 32
PROPOSALS = 200  # each client cycles through these, so the first pass inserts and later ones update

MODELS = {
    "a": ("sync SQLAlchemy + sqlite3 (thread pool)", "sqlite", False),
    "b": ("async SQLAlchemy + aiosqlite", "sqlite", True),
    "c": ("sync SQLAlchemy + psycopg 3 (thread pool)", "postgresql", False),
    "d": ("async SQLAlchemy + asyncpg (pool 20)", "postgresql", True),
    "ref-sync": ("reference: no database, sync handler in thread pool", None, False),
    "ref-async": ("reference: no database, async handler", None, True),
}
REQUIRES = {"b": "aiosqlite", "c": "psycopg", "d": "asyncpg"}


# --- the app granian serves ----------------------------------------------------------------------------


def _votes_table():
    from sqlalchemy import Column, Integer, MetaData, SmallInteger, Table, UniqueConstraint

    metadata = MetaData()
    table = Table(
        "votes",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("respondent_id", Integer, nullable=False),
        Column("proposal_id", Integer, nullable=False),
        Column("value", SmallInteger, nullable=False),
        UniqueConstraint("respondent_id", "proposal_id"),
    )
    return metadata, table


def _upsert(dialect: str, table):
    """One prebuilt statement; requests only bind parameters."""
    from sqlalchemy.dialects import postgresql, sqlite

    stmt = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    return stmt.on_conflict_do_update(
        index_elements=["respondent_id", "proposal_id"], set_={"value": stmt.excluded.value}
    )


def _sqlite_async_policy(engine) -> None:
    """The same connection policy as idmx.db.engine, on the async engine's sync facade."""
    from sqlalchemy import event

    from idmx.db.engine import SQLITE_BUSY_TIMEOUT_MS

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        for pragma in ("journal_mode=WAL", f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}", "synchronous=NORMAL"):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def build_app():
    """granian factory: the app for the model named in BENCH_MODEL, on BENCH_DB_URL."""
    from litestar import Litestar, MediaType, post

    model = os.environ["BENCH_MODEL"]
    url = os.environ.get("BENCH_DB_URL", "")
    _, dialect, is_async = MODELS[model]
    pre_ping = os.environ.get("BENCH_PRE_PING", "1") == "1"

    if dialect is None:
        if is_async:

            @post("/vote/{respondent:int}/{proposal:int}/{value:int}", media_type=MediaType.TEXT, status_code=200)
            async def vote(respondent: int, proposal: int, value: int) -> str:
                return "ok"
        else:

            @post("/vote/{respondent:int}/{proposal:int}/{value:int}", media_type=MediaType.TEXT, status_code=200,
                  sync_to_thread=True)
            def vote(respondent: int, proposal: int, value: int) -> str:
                return "ok"

        return Litestar([vote], debug=False)

    _, table = _votes_table()
    upsert = _upsert(dialect, table)

    if not is_async:
        from idmx.db.engine import _BEGIN, make_engine

        if dialect == "postgresql" and not pre_ping:
            from sqlalchemy import create_engine

            engine = create_engine(url, pool_size=20, max_overflow=10, pool_recycle=1800)  # make_engine minus pre-ping
        else:
            engine = make_engine(url, pool_size=20, max_overflow=10)
        writer = engine.execution_options(**{_BEGIN: "IMMEDIATE"}) if dialect == "sqlite" else engine

        @post("/vote/{respondent:int}/{proposal:int}/{value:int}", media_type=MediaType.TEXT, status_code=200,
              sync_to_thread=True)
        def vote(respondent: int, proposal: int, value: int) -> str:
            with writer.begin() as conn:
                conn.execute(upsert, {"respondent_id": respondent, "proposal_id": proposal, "value": value})
            return "ok"

        def dispose() -> None:
            engine.dispose()

    else:
        from sqlalchemy.ext.asyncio import create_async_engine

        if dialect == "sqlite":
            from idmx.db.engine import SQLITE_BUSY_TIMEOUT_MS

            aengine = create_async_engine(
                url.replace("sqlite://", "sqlite+aiosqlite://", 1), pool_size=20, max_overflow=10,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            )
            _sqlite_async_policy(aengine)
        else:
            aengine = create_async_engine(
                url.replace("postgresql://", "postgresql+asyncpg://", 1), pool_size=20, max_overflow=10,
                pool_pre_ping=pre_ping, pool_recycle=1800,
            )

        @post("/vote/{respondent:int}/{proposal:int}/{value:int}", media_type=MediaType.TEXT, status_code=200)
        async def vote(respondent: int, proposal: int, value: int) -> str:
            async with aengine.begin() as conn:
                await conn.execute(upsert, {"respondent_id": respondent, "proposal_id": proposal, "value": value})
            return "ok"

        async def dispose() -> None:
            await aengine.dispose()

    return Litestar([vote], on_shutdown=[dispose], debug=False)


# --- the driver --------------------------------------------------------------------------------------


def _pg_url(name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


def _create_table(url: str) -> None:
    from sqlalchemy import create_engine

    metadata, _ = _votes_table()
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        metadata.drop_all(engine)
        metadata.create_all(engine)
    finally:
        engine.dispose()


def _count_rows(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM votes")).scalar() or 0
    finally:
        engine.dispose()


class Served:
    """granian, 1 worker, serving build_app() for one model."""

    def __init__(self, model: str, url: str, tmp: Path, pre_ping: bool = True):
        self.port = lg.free_port()
        self.log_path = tmp / f"granian-{model}.log"
        self.env = {**os.environ, "BENCH_MODEL": model, "BENCH_DB_URL": url, "BENCH_PRE_PING": "1" if pre_ping else "0"}
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> bool:
        cmd = [
            sys.executable, "-m", "granian", "--interface", "asgi", "--workers", "1", "--host", "127.0.0.1",
            "--port", str(self.port), "--no-access-log", "--factory", "--working-dir", str(HERE),
            "driver_models:build_app",
        ]
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if lg.run(self._ready()):
                return True
            time.sleep(0.2)
        return False

    async def _ready(self) -> bool:
        conn = lg.Connection("127.0.0.1", self.port)
        try:
            # A vote on an id no client uses; 200 means the app and its database both answer.
            answer = await conn.send(conn.build("POST", "/vote/0/0/1"))
            return answer.status == 200
        except Exception:  # noqa: BLE001 - not up yet
            return False
        finally:
            conn.close()

    def stop(self) -> None:
        if self.proc is None:
            return
        tree = lg.process_tree(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                for pid in tree:  # our own processes only, by id, and only while they still are ours
                    if lg.cmdline_has(pid, b"driver_models"):
                        os.kill(pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc = None
        self.log.close()

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


class Client:
    """One connection = one respondent, cycling through the proposals with a changing value."""

    def __init__(self, port: int, respondent: int):
        self.conn = lg.Connection("127.0.0.1", port)
        self.respondent = respondent
        self.turn = 0
        self.prefix = f"POST /vote/{respondent}/".encode()
        self.suffix = f" HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\r\n".encode()

    async def send(self) -> lg.Answer:
        proposal = 1 + self.turn % PROPOSALS
        value = 1 + (self.turn // PROPOSALS) % 5
        self.turn += 1
        return await self.conn.send(self.prefix + f"{proposal}/{value}".encode() + self.suffix)


def bench_model(model: str, url: str, tmp: Path, args: argparse.Namespace) -> tuple[lg.Result | None, float, str]:
    served = Served(model, url, tmp, pre_ping=args.pre_ping)
    try:
        if not served.start():
            return None, float("nan"), f"server did not start:\n{served.log_tail()}"
        pids = lg.process_tree(served.proc.pid)

        async def drive() -> tuple[lg.Result, float]:
            clients = [Client(served.port, r) for r in range(1, args.concurrency + 1)]
            senders = [c.send for c in clients]
            if args.warmup > 0:
                await lg.closed_loop("warm-up", senders, args.warmup)
            cpu0 = lg.cpu_seconds(pids)
            result = await lg.closed_loop(MODELS[model][0], senders, args.seconds)
            cpu = lg.cpu_seconds(pids) - cpu0
            for c in clients:
                c.conn.close()
            return result, cpu

        result, cpu = lg.run(drive())
        cpu_ms = 1000 * cpu / result.ok if result.ok else float("nan")
        return result, cpu_ms, ""
    finally:
        served.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="a,b,c,d,ref-sync,ref-async",
                        help="comma-separated: a, b, c, d, ref-sync, ref-async (default: all)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per model (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unreported warm-up seconds per model (default 2)")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY, help=f"connections (default {CONCURRENCY})")
    parser.add_argument("--no-pre-ping", dest="pre_ping", action="store_false",
                        help="PostgreSQL models without pool_pre_ping (the app's engine has it on)")
    args = parser.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"unknown model(s): {', '.join(unknown)}")
    if not 0 < args.seconds <= 600:
        parser.error("--seconds must be in (0, 600]")

    print(f"IDMX driver models: vote upsert endpoint, granian 1 worker, {args.concurrency} connections, "
          f"closed loop {args.seconds:g} s per model, PostgreSQL pool_pre_ping {'on' if args.pre_ping else 'off'}; "
          f"{lg.machine_line()}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="idmx-drivers-"))
    pg_name = f"idmx_drivers_{os.getpid()}"
    pg_state: str | None = None  # None: not tried; "": ready; otherwise why not
    rows: list[tuple[str, str, lg.Result | None, float, str]] = []
    try:
        for model in models:
            label, dialect, _ = MODELS[model]
            need = REQUIRES.get(model)
            if need and importlib.util.find_spec(need) is None:
                rows.append((model, label, None, float("nan"), f"skipped: {need} is not installed (pip install {need})"))
                continue
            if dialect == "postgresql":
                if pg_state is None:
                    try:
                        _pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
                        _pg_admin(f'CREATE DATABASE "{pg_name}"')
                        pg_state = ""
                    except Exception as exc:  # noqa: BLE001
                        pg_state = f"skipped: PostgreSQL not reachable at {PG_ADMIN_URL} ({type(exc).__name__})"
                if pg_state:
                    rows.append((model, label, None, float("nan"), pg_state))
                    continue
                url = _pg_url(pg_name)
            elif dialect == "sqlite":
                url = f"sqlite:///{tmp / f'votes-{model}.sqlite3'}"
            else:
                url = ""
            if url:
                _create_table(url)
            print(f"[{model}] {label} ...", flush=True)
            try:
                result, cpu_ms, note = bench_model(model, url, tmp, args)
            except Exception as exc:  # noqa: BLE001 - reported; the other models still run
                result, cpu_ms, note = None, float("nan"), f"failed: {type(exc).__name__}: {exc}"
            if result is not None and url:
                note = f"{_count_rows(url)} rows"
            rows.append((model, label, result, cpu_ms, note))
    finally:
        if pg_state == "":
            try:
                _pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            except Exception as exc:  # noqa: BLE001
                print(f"warning: could not drop database {pg_name}: {exc}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(f"{'model':<10} {'driver':<54} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'srv CPU ms/req':>14} {'client CPU':>10}")
    for model, label, result, cpu_ms, note in rows:
        if result is None:
            print(f"{model:<10} {label:<54} {note}")
            continue
        print(
            f"{model:<10} {label:<54} {result.rate:>8.1f} {lg.fmt_ms(result.pct(50)):>7} {lg.fmt_ms(result.pct(99)):>7} "
            f"{result.errors:>6} {cpu_ms:>14.2f} {result.client_cpu_pct:>9.0f}%"
        )
        if result.errors:
            print(f"{'':<10} errors: {result.error_summary()}")
    print(f"\nafter the run (the load average now includes this run): {lg.machine_line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
