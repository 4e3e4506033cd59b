"""The processes ``bridge dev`` runs, and how each one says it is ready.

They are the production programs (gunicorn, ``celery worker``/``beat``/``flower``, the
simulators' own commands), started from this interpreter's environment so that a venv that was
never activated still works. Readiness is what an operator would check: the web app and the
simulators answer HTTP, the worker and beat say so in their logs.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gunicorn
import requests

from bridge.devrun.supervisor import Child
from bridge.jobs import queues

WORKER_CONCURRENCY = 2


@dataclass(frozen=True)
class Ports:
    web: int
    orderdesk: int
    warehouse: int
    flower: int

    @staticmethod
    def url(port: int) -> str:
        return f"http://127.0.0.1:{port}"


def _bridge_command() -> list[str]:
    """The ``bridge`` script installed next to this interpreter (or on PATH)."""
    sibling = Path(sys.executable).with_name("bridge")
    if sibling.exists():
        return [str(sibling)]
    found = shutil.which("bridge")
    if found is None:
        raise RuntimeError("the `bridge` command is not installed next to this Python")
    return [found]


def _celery(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "workers", *args]


def orderdesk_sim(ports: Ports) -> list[str]:
    return [*_bridge_command(), "sim", "orderdesk", "--port", str(ports.orderdesk)]


def warehouse_sim(ports: Ports) -> list[str]:
    port = str(ports.warehouse)
    return [*_bridge_command(), "sim", "warehouse", "--kind", "simulated", "--port", port]


def _no_control_socket() -> list[str]:
    # gunicorn 27 opens a control socket at one path per user (~/.gunicorn) unless told not to;
    # the demo must not take it from a real deployment on the same machine.
    return ["--no-control-socket"] if gunicorn.version_info >= (27,) else []


def web(ports: Ports) -> list[str]:
    # One process is plenty for a demo; gthread keeps intake answering while a request waits.
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        "1",
        "--threads",
        "4",
        "--worker-class",
        "gthread",
        "--bind",
        f"127.0.0.1:{ports.web}",
        "--graceful-timeout",
        "10",
        "--access-logfile",
        "-",
        "--config",
        "python:bridge.devrun.gunicorn_logging",
        *_no_control_socket(),
        "web:create_app()",
    ]


def worker() -> list[str]:
    # Threads, not prefork: without Redis the Order Desk rate bucket lives in process memory,
    # and one process with two threads shares one bucket (prefork children would each get one).
    return _celery(
        "worker",
        "--loglevel",
        "INFO",
        "-Q",
        ",".join(queues.ALL_QUEUES),
        "--concurrency",
        str(WORKER_CONCURRENCY),
        "--pool",
        "threads",
        "--hostname",
        "dev@%h",
        "--without-mingle",
        "--without-gossip",
    )


def beat(schedule: Path) -> list[str]:
    return _celery("beat", "--loglevel", "INFO", "--schedule", str(schedule))


def flower(ports: Ports) -> list[str]:
    # Flower hands these to tornado, which only understands the --name=value form.
    return _celery("flower", f"--port={ports.flower}", "--address=127.0.0.1")


def answers_http(url: str, ok_statuses: tuple[int, ...] | None = None) -> Callable[[Child], bool]:
    """Ready once ``url`` answers (with one of ``ok_statuses`` when given)."""

    def check(_child: Child) -> bool:
        try:
            response = requests.get(url, timeout=2)
        except requests.RequestException:
            return False
        return ok_statuses is None or response.status_code in ok_statuses

    return check


def logs_line(text: str) -> Callable[[Child], bool]:
    """Ready once the child's log holds ``text``."""

    def check(child: Child) -> bool:
        return text in child.log_text()

    return check


WORKER_READY = logs_line(" ready.")
BEAT_READY = logs_line("beat: Starting")
