"""Heartbeat files for liveness probes: the worker and beat touch ``BRIDGE_HEARTBEAT_FILE``.

A probe that only asks "is the process there" misses a worker whose main loop is wedged; one
that runs ``celery inspect ping`` starts a whole Python process and Celery app each time (seconds
of CPU per pod per period) and goes through the broker, so a Redis outage fails every pod's probe
at once. Instead the worker's own event loop (the timer its consumer runs on) touches a file
every few seconds, and beat touches it on every scheduler tick: the probe only checks the file's
age. A worker that has lost its broker stops touching it too, but the probe allows minutes, and
a restart then is what an operator would do anyway.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, bootsteps
from celery.beat import PersistentScheduler

from bridge.settings import get_settings

TOUCH_EVERY_SECONDS = 10.0


def touch() -> None:
    path = get_settings().heartbeat_file
    if path is not None:
        path.touch()


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Touches the heartbeat file from the worker's timer, which its main loop drives."""

    requires = ("celery.worker.components:Timer",)

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.tref: Any = None

    def start(self, worker: Any) -> None:
        touch()
        self.tref = worker.timer.call_repeatedly(TOUCH_EVERY_SECONDS, touch)

    def stop(self, worker: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None


class HeartbeatScheduler(PersistentScheduler):
    """Beat's usual scheduler, touching the heartbeat file on every tick."""

    def tick(self, *args: Any, **kwargs: Any) -> float:
        touch()
        return float(super().tick(*args, **kwargs))


def install(app: Celery) -> None:
    """Give ``app``'s workers the heartbeat step and its beat the touching scheduler."""
    app.steps["worker"].add(WorkerHeartbeat)
    app.conf.beat_scheduler = f"{__name__}:HeartbeatScheduler"
