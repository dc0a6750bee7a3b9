"""Faults a test can inject and take back: a TCP proxy it cuts and restores (PostgreSQL going away), a
SQLite write lock held by another process, and a small tmpfs that fills up (a full disk)."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


class TcpProxy:
    """Forwards 127.0.0.1:port to a target; `cut` closes every connection and refuses new ones (as a
    stopped server does), `restore` listens again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = self._listen(0)
        self.port = self._listener.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @staticmethod
    def _listen(port: int) -> socket.socket:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
        sock.settimeout(0.1)
        return sock

    def _accept(self) -> None:
        while not self._stop.is_set():
            listener = self._listener
            if listener is None:
                time.sleep(0.05)
                continue
            try:
                client, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([a, b], [], [], 0.2)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except OSError:
            return
        finally:
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.close()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        listener.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def restore(self) -> None:
        self._listener = self._listen(self.port)

    def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self.cut()


@contextlib.contextmanager
def sqlite_lock_held(database_file: Path) -> Iterator[subprocess.Popen]:
    """Another process holds SQLite's write lock (BEGIN IMMEDIATE, as a backup or a migration would)
    until the block ends."""
    code = textwrap.dedent(f"""
        import sqlite3, sys
        con = sqlite3.connect({str(database_file)!r}, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        print("locked", flush=True)
        sys.stdin.readline()
        con.execute("ROLLBACK")
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        with contextlib.suppress(OSError):
            proc.stdin.write("\n")
            proc.stdin.flush()
        proc.wait(timeout=10)


@contextlib.contextmanager
def small_tmpfs(path: Path, size_mb: int) -> Iterator[Path]:
    """A tmpfs of `size_mb` mounted at `path` (needs root); skipped with the reason where it cannot be
    mounted, except under CI, where it must work."""
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        reason = f"cannot mount a tmpfs to fill ({result.stderr.strip() or 'mount failed'}); needs root"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> Path:
    """Fill the file system of `directory` to the last byte; returns the filler file (delete it to free)."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as fh:
        for size in (1 << 16, 1):
            with contextlib.suppress(OSError):
                while fh.write(b"\0" * size):
                    pass
    return filler
