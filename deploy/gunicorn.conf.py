"""Gunicorn settings for the web process (`gunicorn -c deploy/gunicorn.conf.py "web:create_app()"`).

Everything here is read from the environment so that one file serves honcho, systemd, the
container image and Kubernetes. Overrides without editing: the variables below, or gunicorn's own
``GUNICORN_CMD_ARGS`` (it wins over this file).

Metrics: several worker processes each count their own requests, so ``/metrics`` must use
prometheus_client's multi-process mode. The master owns ``PROMETHEUS_MULTIPROC_DIR``: it sets the
variable before any worker is forked (workers inherit it and import prometheus_client after the
fork, because ``preload_app`` is off), wipes files left by a previous run, and tells
prometheus_client when a worker dies so its live gauges stop being reported.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bridge.logs import gunicorn_logconfig

MAX_DEFAULT_WORKERS = 8


def _default_workers() -> int:
    """2 x cores + 1, capped: each worker holds its own database pool, and intake is I/O bound."""
    return min(2 * (os.cpu_count() or 1) + 1, MAX_DEFAULT_WORKERS)


def _bind() -> str:
    explicit = os.environ.get("BRIDGE_WEB_BIND")
    if explicit:
        return explicit
    return f"0.0.0.0:{os.environ.get('PORT') or '8000'}"


def _metrics_dir() -> tuple[Path, bool]:
    """The multi-process metrics folder, and whether this config made it up (then it is ours)."""
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if configured:
        return Path(configured), False
    return Path(tempfile.mkdtemp(prefix="orderdesk-bridge-metrics-")), True


bind = _bind()
workers = int(os.environ.get("WEB_CONCURRENCY") or _default_workers())
# Sync workers: bench/intake_bench.py on 2 cores took 216 webhooks/s with 4 sync workers against
# 196/s with 2 gthread workers of 4 threads, before the one-statement accept (threads in one
# process contend for the GIL, and a webhook holds PostgreSQL for about a millisecond). Keep a
# proxy in front for slow clients.
worker_class = "sync"
timeout = 30
graceful_timeout = 25
keepalive = 5
preload_app = False
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("BRIDGE_LOG_LEVEL", "info").lower()
# gunicorn's own lines (start-up, worker deaths, one access line per request with method, path,
# status and duration) in the bridge's format: JSON objects in production, like the app's lines.
logconfig_dict = gunicorn_logconfig(os.environ.get("BRIDGE_LOG_FORMAT", "json"), loglevel)
# Heartbeat files on a tmpfs: a container's overlay filesystem can stall them into false timeouts.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
proc_name = "orderdesk-bridge-web"

METRICS_DIR, _METRICS_DIR_IS_TEMPORARY = _metrics_dir()
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(METRICS_DIR)


def on_starting(server: Any) -> None:
    """Start from an empty metrics folder: files of a previous run would be summed into this one."""
    METRICS_DIR.mkdir(parents=True, exist_ok=True)
    for leftover in METRICS_DIR.glob("*.db"):
        leftover.unlink()


def child_exit(server: Any, worker: Any) -> None:
    # Imported here, not at the top: the master must not load prometheus_client before the
    # variable above is set, or forked workers would inherit single-process metric values.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, str(METRICS_DIR))


def on_exit(server: Any) -> None:
    if _METRICS_DIR_IS_TEMPORARY:
        shutil.rmtree(METRICS_DIR, ignore_errors=True)


# gunicorn 25+ opens a control socket at one per-user path ($HOME/.gunicorn/gunicorn.ctl), which
# collides when several instances run as one user; the bridge does not use it.
control_socket_disable = True
