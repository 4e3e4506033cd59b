"""The whole bridge as production runs it: gunicorn, real Celery worker and beat processes,
PostgreSQL, Redis, and both simulators over HTTP on loopback.

Only the simulators live in the test process (so tests can inspect and steer them); every
bridge component is its own OS process started from the same commands as the Procfile, so a
SIGKILL or a Redis flush hits them exactly as it would in production.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

PROJECT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, every: float = 0.2
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).ok
    except requests.RequestException:
        return False


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)

    def stop(self, timeout: float = 30) -> int | None:
        self.signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            return self.popen.wait(10)


@dataclass
class Bridge:
    """Starts and stops the bridge's processes with one environment."""

    env: dict[str, str]
    logs: Path
    procs: dict[str, Proc] = field(default_factory=dict)
    web_url: str = ""

    def _spawn(self, name: str, args: list[str]) -> Proc:
        log = self.logs / f"{name}.log"
        handle = log.open("ab")
        popen = subprocess.Popen(
            args,
            cwd=PROJECT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        handle.close()
        proc = Proc(name, popen, log)
        self.procs[name] = proc
        return proc

    def start_web(self) -> None:
        port = free_port()
        self.web_url = f"http://127.0.0.1:{port}"
        self._spawn(
            "web",
            [
                str(BIN / "gunicorn"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "web:create_app()",
            ],
        )
        wait_until(self._web_up, 30, "the web process")

    def _web_up(self) -> bool:
        return _answers(f"{self.web_url}/healthz")

    def start_worker(self, name: str = "worker", concurrency: int = 2, *options: str) -> Proc:
        """A worker on every queue; ``options`` are more ``celery worker`` options."""
        proc = self._spawn(
            name,
            [
                str(BIN / "celery"),
                "-A",
                "workers",
                "worker",
                "--loglevel",
                "INFO",
                "-Q",
                "intake,orderdesk,poll,maintenance",
                "--concurrency",
                str(concurrency),
                "-n",
                f"{name}-{os.getpid()}@%h",
                "--without-gossip",
                "--without-mingle",
                *options,
            ],
        )
        wait_until(lambda: "ready." in proc.text(), 60, f"{name} to be ready")
        return proc

    def start_beat(self) -> Proc:
        proc = self._spawn(
            "beat",
            [
                str(BIN / "celery"),
                "-A",
                "workers",
                "beat",
                "--loglevel",
                "INFO",
                "-s",
                str(self.logs / "celerybeat-schedule"),
            ],
        )
        wait_until(lambda: "beat: Starting" in proc.text(), 30, "beat to start")
        return proc

    def start_flower(self) -> str:
        port = free_port()
        self.env["FLOWER_UNAUTHENTICATED_API"] = "true"
        self._spawn(
            "flower",
            [
                str(BIN / "celery"),
                "-A",
                "workers",
                "flower",
                f"--port={port}",
                "--address=127.0.0.1",
            ],
        )
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(f"{url}/healthcheck"), 30, "flower")
        return url

    def worker_children(self, name: str = "worker") -> list[int]:
        """Pids of the prefork children doing the work of worker ``name``."""
        parent = self.procs[name].popen.pid
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(parent)], capture_output=True, text=True
        ).stdout
        return [int(pid) for pid in out.split()]

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop()

    def dump_logs(self) -> str:
        return "\n".join(
            f"----- {name} -----\n{proc.text()[-4000:]}" for name, proc in self.procs.items()
        )
