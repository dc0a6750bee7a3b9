"""Where the time of one vote goes: py-spy samples of the granian worker while voters vote.

Starts `idmx serve --demo --workers 1` like vote_ingest.py, lets --voters voters (default 1: no
GIL or lock contention, so the samples show the cost of one request) vote back-to-back, and samples
the worker with `py-spy record --gil` (only the thread holding the GIL, i.e. Python CPU time). Prints
the share of samples per part of the request path and the heaviest functions.

    pip install py-spy
    python benchmarks/profile_vote.py --db sqlite --seconds 15
    python benchmarks/profile_vote.py --db postgresql --voters 32 --raw /tmp/votes.txt

Needs ptrace permission on the worker (root, or kernel.yama.ptrace_scope=0).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _loadgen as lg  # noqa: E402
import vote_ingest as vi  # noqa: E402

# A sample belongs to the innermost frame that matches one of ANCHORS (so a middleware gets its own
# work but not the work of what it calls); samples with no anchor go to the first matching GENERIC part.
ANCHORS = [
    ("SQLAlchemy: ON CONFLICT .excluded (builds a table alias per call)", r"Insert\.excluded"),
    ("DB driver: execute (sqlite3 / psycopg)", r"do_execute |do_execute_no_params |Cursor\.execute|_execute_gen"),
    ("DB: BEGIN / commit / rollback", r"do_commit|do_rollback|_on_begin|do_begin|Connection\.commit|Connection\.rollback"),
    ("DB: pool checkout / return / pre-ping", r"_ConnectionFairy|_ConnectionRecord|pool/(base|impl)\.py|do_ping"),
    ("SQLAlchemy: cache key / compile", r"_generate_cache_key|_gen_cache_key|_compile_w_cache|SQLCompiler|sql/compiler\.py"),
    ("sending the response to granian", r"capture_response_started|ASGIResponse\.send_body|ASGIResponse\.start_response"),
    ("Jinja2 template render", r"jinja2/|Template\.to_asgi_response|template_engine"),
    ("Litestar: rate-limit middlewares (incl. their check's thread hop)", r"RateLimitMiddleware|idmx/web/limits\.py"),
    ("Litestar: CSRF middleware", r"CSRFMiddleware"),
    ("Litestar: form / body parsing", r"parse_url_encoded|Request\.form|Request\.body|Request\.stream|url_encoded"),
    ("idmx: locale middleware", r"locale_middleware|idmx/i18n"),
    ("thread-pool hop (anyio / executor)", r"anyio/|ThreadPoolExecutor|_call_set_state|litestar/concurrency\.py"),
]
GENERIC = [
    ("SQLAlchemy: statement building (select/insert/where)", r"sqlalchemy/sql/"),
    ("SQLAlchemy: ORM session / result processing", r"sqlalchemy/"),
    ("idmx: handler / service code", r"idmx/"),
    ("Litestar: routing / DI / response / other", r"litestar/"),
    ("granian / asyncio", r"granian|asyncio|uvloop"),
    ("thread-pool hop (anyio / executor)", r"concurrent/futures|threading\.py"),
]


def _frames(stack: str) -> list[str]:
    out = []
    for frame in stack.split(";")[1:]:  # first item: the thread
        m = re.match(r"(.*?) \((.*?):\d+\)", frame)
        out.append(f"{m.group(1)} ({m.group(2)})" if m else frame)
    return out


def _bucket(frames: list[str], parts) -> str | None:
    for frame in reversed(frames):
        for name, rx in parts:
            if rx.search(frame):
                return name
    return None


def summarize(raw: Path, top: int) -> None:
    buckets: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    anchors = [(name, re.compile(rx)) for name, rx in ANCHORS]
    generic = [(name, re.compile(rx)) for name, rx in GENERIC]
    for line in raw.read_text().splitlines():
        stack, _, n_text = line.rpartition(" ")
        if not n_text.isdigit():
            continue  # a frame name with a line break in it (generated code); negligible
        n = int(n_text)
        total += n
        frames = _frames(stack)
        for name in set(frames):
            inclusive[name] += n
        if frames:
            own[frames[-1]] += n
        bucket = _bucket(frames, anchors) or _bucket(frames, generic) or "other"
        buckets[bucket] += n
    if not total:
        print("no samples")
        return
    print(f"\n{total} samples (GIL held) of the worker")
    print("\nby part of the request path (each sample counted once, in the innermost part it is in):")
    for name, n in buckets.most_common():
        print(f"  {100 * n / total:5.1f}%  {name}")
    print(f"\nheaviest functions, inclusive (top {top}):")
    skip = re.compile(r"click/|runpy|multiprocessing|granian/server|idmx/cli\.py|idmx/__main__|threading\.py|_worker \(|_WorkItem")
    shown = 0
    for name, n in inclusive.most_common():
        if skip.search(name):
            continue
        print(f"  {100 * n / total:5.1f}%  {name}")
        shown += 1
        if shown >= top:
            break
    print("\nheaviest functions, own time (top 15):")
    for name, n in own.most_common(15):
        print(f"  {100 * n / total:5.1f}%  {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--voters", type=int, default=1, help="concurrent voters (default 1)")
    parser.add_argument("--seconds", type=int, default=15, help="sampling time (default 15)")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second (default 250)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--summarize", type=Path, metavar="RAW", help="only summarise an earlier --raw file")
    parser.add_argument("--raw", type=Path, help="also keep py-spy's raw (collapsed) stacks in this file")
    args = parser.parse_args(argv)
    if args.summarize:
        summarize(args.summarize, args.top)
        return 0
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        print("py-spy is not installed: pip install py-spy", file=sys.stderr)
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="idmx-profile-"))
    pg_name = f"idmx_bench_{os.getpid()}"
    raw = args.raw or tmp / "stacks.txt"
    server = None
    try:
        url = f"sqlite:///{tmp / 'idmx.sqlite3'}" if args.db == "sqlite" else vi._create_pg(pg_name)
        server = vi.Server(url, 1, tmp)
        if not server.start():
            print(f"the server did not start:\n{server.log_tail()}", file=sys.stderr)
            return 1

        async def drive() -> lg.Result:
            voters = [vi.Voter(lg.Connection("127.0.0.1", server.port)) for _ in range(args.voters)]
            await asyncio.gather(*(v.join() for v in voters))
            await lg.closed_loop("warm-up", [v.vote for v in voters], 2)
            workers = [p for p in server.pids() if p != server.proc.pid]
            spy = await asyncio.create_subprocess_exec(
                py_spy, "record", "--gil", "--nonblocking", "-r", str(args.rate), "-d", str(args.seconds),
                "-f", "raw", "-o", str(raw), "-p", str(workers[0]),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )
            result = await lg.closed_loop("votes", [v.vote for v in voters], args.seconds + 1)
            await asyncio.wait_for(spy.wait(), 30)
            return result

        result = lg.run(drive())
        print(f"{args.db}, 1 worker, {args.voters} voter(s): {result.rate:.1f} votes/s, p50 {result.pct(50):.1f} ms, "
              f"p99 {result.pct(99):.1f} ms, errors: {result.error_summary()}")
        summarize(raw, args.top)
    finally:
        if server is not None:
            server.stop()
        if args.db == "postgresql":
            vi._drop_pg(pg_name)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
