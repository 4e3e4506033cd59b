"""The pieces a benchmark starts and measures: a scratch database, a private Redis, child processes.

Benchmarks run the bridge the way production does (separate OS processes from the Procfile's
commands), so what they start must also be stopped, even when a run fails half way: every helper
here is a context manager, and every child runs in its own process group so that stopping it
stops its forks too (gunicorn and Celery prefork children).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import click
import psycopg
import redis

from bridge import db, migrate

PG_SERVER = os.environ.get("BRIDGE_TEST_PG", "postgresql://postgres@127.0.0.1:5432")


class BenchError(click.ClickException):
    """A part of the stack did not come up or did not finish; the message says which."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # "not up yet" takes many shapes: refused, 503, ...
            pass
        time.sleep(0.1)
    raise BenchError(f"{what} did not come up within {timeout:g} s")


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, migrated database, dropped afterwards; its SQLAlchemy URL."""
    name = f"bridge_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_SERVER.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    try:
        migrate.upgrade(url)
        yield url
    finally:
        db.reset_engines()
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def private_redis() -> Iterator[tuple[str, int]]:
    """A throwaway ``redis-server`` on a free port, so a run never sees another run's keys: its
    URL, and its pid for measuring the broker's CPU."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise BenchError("redis-server is not installed (Debian: apt-get install redis-server)")
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_until(lambda: bool(redis.Redis.from_url(url).ping()), "redis-server")
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class Child:
    """One started program; ``log`` holds its output."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, timeout: float = 30) -> None:
        if self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)


class Children:
    """Starts programs with one environment and stops them all, last started first."""

    def __init__(self, env: dict[str, str], logs: Path, cwd: Path) -> None:
        self.env = env
        self.logs = logs
        self.cwd = cwd
        self.started: list[Child] = []

    def start(self, name: str, args: Sequence[str], env: dict[str, str] | None = None) -> Child:
        log = self.logs / f"{name}.log"
        with log.open("ab") as handle:
            popen = subprocess.Popen(
                list(args),
                cwd=self.cwd,
                env={**self.env, **(env or {})},
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        child = Child(name, popen, log)
        self.started.append(child)
        return child

    def stop_all(self) -> None:
        for child in reversed(self.started):
            child.stop()

    def tails(self, chars: int = 3000) -> str:
        return "\n".join(f"----- {c.name} -----\n{c.text()[-chars:]}" for c in self.started)


def process_tree(pid: int) -> list[int]:
    """``pid`` and every descendant (prefork children, gunicorn workers)."""
    found = [pid]
    for parent in found:
        children = Path(f"/proc/{parent}/task/{parent}/children")
        try:
            found.extend(int(child) for child in children.read_text().split())
        except OSError:
            continue
    return found


def peak_rss_mb(pid: int) -> float | None:
    """The kernel's high-water mark of this process's resident memory (VmHWM), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None
