"""A cheap HTTP/1.1 load generator shared by the benchmark scripts.

The server and the load generator share the machine, so the client must cost as little CPU as
possible: one asyncio process (uvloop when installed), raw keep-alive sockets, request bytes built
once, and a response parser that reads only the status line, the headers it needs and a
Content-Length (or chunked) body. No pipelining: one request in flight per connection.

Two ways to drive a server:

* `closed_loop`: N connections each send their next request as soon as the previous answer
  arrived, for a fixed time. Measures capacity (requests/s) and latency at that concurrency.
* `open_loop`: requests are scheduled by the clock at a fixed rate; whichever connection is free
  takes the next scheduled request. Latency counts from the *scheduled* send time, so a server that
  falls behind shows it in the latency instead of silently slowing the client (no coordinated
  omission).

Everything is bounded: each phase stops by its deadline, each request has a timeout, and only the
given host (127.0.0.1 in these scripts) is contacted.
"""

from __future__ import annotations

import asyncio
import math
import os
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Sequence

REQUEST_TIMEOUT_S = 10.0
DRAIN_TIMEOUT_S = 10.0


class HTTPError(Exception):
    """The connection broke or the answer could not be parsed."""


@dataclass
class Answer:
    status: int
    head: bytes  # status line and headers, as received
    body: bytes

    def headers(self) -> list[tuple[str, str]]:
        lines = self.head.decode("latin-1").split("\r\n")[1:]
        out = []
        for line in lines:
            if ":" in line:
                name, _, value = line.partition(":")
                out.append((name.strip().lower(), value.strip()))
        return out

    def cookies(self) -> dict[str, str]:
        """name -> value of every Set-Cookie in the answer."""
        jar = {}
        for name, value in self.headers():
            if name == "set-cookie":
                pair = value.split(";", 1)[0]
                k, _, v = pair.partition("=")
                jar[k.strip()] = v.strip()
        return jar


class Connection:
    """One keep-alive HTTP/1.1 connection; reconnects by itself after a close or an error."""

    def __init__(self, host: str, port: int):
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.host_header = f"{host}:{port}".encode()

    async def _connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    def build(self, method: str, path: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b"") -> bytes:
        """The complete request bytes; build once, send many times."""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    async def send(self, raw: bytes) -> Answer:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):  # no extra task per request, unlike wait_for
                return await self._send(raw)
        except BaseException:
            self.close()  # the stream is in an unknown state; start fresh next time
            raise

    async def _send(self, raw: bytes) -> Answer:
        if self.writer is None:
            await self._connect()
        assert self.reader is not None and self.writer is not None
        self.writer.write(raw)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise HTTPError(f"connection lost: {exc!r}") from None
        try:
            status = int(head[9:12])
        except ValueError:
            raise HTTPError(f"bad status line: {head[:40]!r}") from None
        lower = head.lower()
        i = lower.find(b"\r\ncontent-length:")
        if i >= 0:
            j = lower.index(b"\r\n", i + 2)
            body = await self.reader.readexactly(int(lower[i + 17 : j]))
        elif b"\r\ntransfer-encoding: chunked" in lower:
            body = await self._chunked()
        else:
            body = b""
        if b"\r\nconnection: close" in lower:
            self.close()
        return Answer(status, head, body)

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)


# A client's next request: an awaitable that sends it on its own connection and returns the answer.
Sender = Callable[[], Awaitable[Answer]]


@dataclass
class Result:
    name: str
    seconds: float  # wall time of the measured window
    latencies_ms: list[float] = field(default_factory=list)  # of 200 answers
    statuses: Counter = field(default_factory=Counter)  # status code or exception name -> count
    client_cpu_s: float = 0.0
    offered_rate: float | None = None
    scheduled: int = 0
    unanswered: int = 0

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    @property
    def errors(self) -> int:
        return sum(n for k, n in self.statuses.items() if k != 200) + self.unanswered

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    def pct(self, p: float) -> float:
        """Nearest-rank percentile of the 200 answers' latencies, in milliseconds."""
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        k = max(0, min(len(data) - 1, math.ceil(p / 100 * len(data)) - 1))
        return data[k]

    @property
    def client_cpu_pct(self) -> float:
        return 100 * self.client_cpu_s / self.seconds if self.seconds > 0 else 0.0

    def error_summary(self) -> str:
        parts = [f"{k}: {n}" for k, n in sorted(self.statuses.items(), key=lambda kv: str(kv[0])) if k != 200]
        if self.unanswered:
            parts.append(f"unanswered: {self.unanswered}")
        return ", ".join(parts) or "none"


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def closed_loop(name: str, senders: Sequence[Sender], seconds: float) -> Result:
    """Each sender is one client with its own connection; all run back-to-back until the deadline."""
    result = Result(name, seconds)
    lat = result.latencies_ms
    statuses = result.statuses
    clock = time.perf_counter
    deadline = clock() + seconds

    async def client(send: Sender) -> None:
        while True:
            t0 = clock()
            if t0 >= deadline:
                return
            try:
                answer = await send()
            except Exception as exc:  # noqa: BLE001 - counted, not raised
                statuses[type(exc).__name__] += 1
                await asyncio.sleep(0.01)  # a broken server must not turn this into a busy loop
                continue
            t1 = clock()
            statuses[answer.status] += 1
            if answer.status == 200:
                lat.append((t1 - t0) * 1000)

    cpu0, t_start = _cpu(), clock()
    await asyncio.gather(*(client(s) for s in senders))
    result.seconds = clock() - t_start
    result.client_cpu_s = _cpu() - cpu0
    # Answers that arrived after the deadline were sent before it; they count, and so does their time.
    return result


async def open_loop(name: str, senders: Sequence[Sender], rate: float, seconds: float) -> Result:
    """Offer `rate` requests/s for `seconds`; latency is measured from each request's scheduled time."""
    result = Result(name, seconds, offered_rate=rate)
    lat = result.latencies_ms
    statuses = result.statuses
    clock = time.perf_counter
    total = int(rate * seconds)
    result.scheduled = total
    queue: asyncio.Queue[float | None] = asyncio.Queue()
    t0 = clock() + 0.05
    last_done = t0

    async def dispatcher() -> None:
        # Release every request whose time has come; sleep until the next one is due.
        i = 0
        while i < total:
            now = clock()
            while i < total and t0 + i / rate <= now:
                queue.put_nowait(t0 + i / rate)
                i += 1
            if i < total:
                await asyncio.sleep(max(0.0, t0 + i / rate - clock()))
        for _ in senders:
            queue.put_nowait(None)

    stop = False

    async def client(send: Sender) -> None:
        nonlocal last_done
        while not stop:  # the flag, not only cancel(): a cancellation can race with an answer
            scheduled = await queue.get()
            if scheduled is None:
                return
            try:
                answer = await send()
            except Exception as exc:  # noqa: BLE001
                statuses[type(exc).__name__] += 1
                continue
            done = clock()
            last_done = max(last_done, done)
            statuses[answer.status] += 1
            if answer.status == 200:
                lat.append((done - scheduled) * 1000)

    cpu0 = _cpu()
    tasks = [asyncio.ensure_future(client(s)) for s in senders]
    disp = asyncio.ensure_future(dispatcher())
    await disp
    # Bounded drain: what is still queued or in flight gets DRAIN_TIMEOUT_S to finish.
    _, pending = await asyncio.wait(tasks, timeout=DRAIN_TIMEOUT_S)
    stop = True
    for t in pending:
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    done_count = sum(result.statuses.values())
    result.unanswered = max(0, total - done_count)
    result.seconds = max(seconds, last_done - t0)
    result.client_cpu_s = _cpu() - cpu0
    return result


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (cheaper per request), else the standard loop."""
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:
        return asyncio.new_event_loop()


def run(coro):
    loop = new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


# --- the server side: processes and their CPU time -------------------------------------------------


def _children(pid: int) -> list[int]:
    out = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out += [int(x) for x in fh.read().split()]
        except OSError:
            pass
    return out


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants (Linux /proc)."""
    seen, todo = [], [pid]
    while todo:
        p = todo.pop()
        seen.append(p)
        try:
            todo += _children(p)
        except OSError:
            pass
    return seen


def cmdline_has(pid: int, needle: bytes) -> bool:
    """Whether process `pid` still exists and its command line contains `needle` (pid reuse guard)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return needle in fh.read()
    except OSError:
        return False


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds used so far by the given processes (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / tick


def machine_line() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"machine: {os.cpu_count()} CPU(s), load average {load} (server and load generator share them)"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fmt_ms(x: float) -> str:
    return "   n/a" if x != x else f"{x:6.1f}"
