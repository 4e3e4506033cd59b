"""The Celery configuration, for at-least-once delivery, and the sender that publishes with it.

PostgreSQL holds every order's truth; a message only says "look at row N now". So a message may
be lost (the sweeper re-sends it) or delivered twice (every task claims its row first), but an
acknowledged message never hides unfinished work: acks are late, a task whose worker died is
re-queued, each worker reserves one message at a time, and the broker's visibility timeout is
longer than any task may run or be delayed.

The worker builds its app with ``make_celery`` and adds its tasks; every other process only
publishes, through ``CelerySender``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from celery import Celery
from celery.schedules import crontab
from kombu import Queue
from kombu.exceptions import OperationalError

from bridge.jobs import queues, sentinel_transport
from bridge.jobs.dispatch import PublishError
from bridge.settings import Settings, get_settings

# The longest a task may run, and the longest countdown we ever schedule. The broker's
# visibility timeout must exceed both, or Redis would hand a still-running task to a second worker.
TASK_TIME_LIMIT = 300
MAX_COUNTDOWN = 600
VISIBILITY_TIMEOUT = 3600
# A submit claims its orders with a lease (BRIDGE_SUBMIT_LEASE_SECONDS, counted from the claim,
# which comes after the task starts); the cancel step and the sweeper act on an order only once
# its lease has run out. So the worker stops a submit task at this share of the lease: no
# submission lands after its lease ends. The rest covers the kill itself and clock skew between
# hosts. (Only the prefork pool enforces time limits; the submit step also handles a late landing.)
SUBMIT_LEASE_SHARE = 0.8


def submit_time_limits(settings: Settings) -> tuple[float, float]:
    """The submit task's (hard, soft) time limits: inside its lease, never above TASK_TIME_LIMIT."""
    hard = min(float(TASK_TIME_LIMIT), settings.submit_lease_seconds * SUBMIT_LEASE_SHARE)
    return hard, hard - min(30.0, hard / 10)


def broker_options(settings: Settings) -> dict[str, Any]:
    if settings.broker_url.startswith("filesystem://"):
        folder = settings.broker_dir
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
            # Fanout bindings (events, remote control); kombu's default is ./control in the cwd.
            "control_folder": str(folder / "control"),
            # A worker whose prefetch is full sleeps this long before looking again (kombu's
            # default 1 s capped a worker at about two tasks a second); a folder scan is cheap.
            "polling_interval": 0.1,
        }
    if settings.broker_url.startswith(("redis://", "rediss://", "sentinel://")):
        options: dict[str, Any] = {
            "visibility_timeout": VISIBILITY_TIMEOUT,
            "socket_connect_timeout": 2,
            "socket_timeout": 10,
        }
        if settings.broker_url.startswith("sentinel://"):
            options.update(sentinel_transport.transport_options(settings.redis_sentinel_master))
        return options
    return {}


def make_celery(settings: Settings | None = None, include: Sequence[str] = ()) -> Celery:
    """The configured app; ``include`` names the modules defining its tasks (the worker's)."""
    settings = settings or get_settings()
    sentinel_transport.register()
    submit_hard, submit_soft = submit_time_limits(settings)
    app = Celery("orderdesk_bridge", include=list(include))
    app.conf.update(
        broker_url=settings.broker_url,
        broker_transport_options=broker_options(settings),
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=2,
        task_ignore_result=True,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        # SIGTERM: stop taking work, give running tasks this long, then requeue what is left.
        worker_soft_shutdown_timeout=30,
        worker_enable_soft_shutdown_on_idle=True,
        task_time_limit=TASK_TIME_LIMIT,
        task_soft_time_limit=TASK_TIME_LIMIT - 30,
        task_annotations={
            queues.SUBMIT_ORDER: {"time_limit": submit_hard, "soft_time_limit": submit_soft}
        },
        task_queues=[Queue(name) for name in queues.ALL_QUEUES],
        task_default_queue=queues.QUEUE_MAINTENANCE,
        task_routes={name: {"queue": queue} for name, queue in queues.ROUTES.items()},
        # No "task-sent" event per publish: it doubled the cost of every webhook's enqueue;
        # Flower still sees each task from the worker's received/started/succeeded events.
        task_send_sent_event=False,
        worker_send_task_events=True,
        worker_hijack_root_logger=False,
        timezone="UTC",
        enable_utc=True,
        # Periodic work: each run takes a database lease, so a second beat is harmless.
        beat_schedule={
            "sweep": {
                "task": queues.SWEEP,
                "schedule": settings.sweep_interval_seconds,
                "options": {"expires": settings.sweep_interval_seconds},
            },
            "schedule-polls": {
                "task": queues.SCHEDULE_POLLS,
                "schedule": settings.schedule_interval_seconds,
                "options": {"expires": settings.schedule_interval_seconds},
            },
            # Missed-webhook recovery: one pass per active store (bridge.pipeline.reconcile).
            "reconcile": {
                "task": queues.RECONCILE,
                "schedule": settings.reconcile_interval_seconds,
                "options": {"expires": settings.reconcile_interval_seconds},
            },
            # Daily, at a quiet hour (UTC); see bridge.ops.retention.
            "retention": {
                "task": queues.RETENTION,
                "schedule": crontab(minute=17, hour=3),
                "options": {"expires": 3600},
            },
        },
    )
    return app


# Publishing apps kept at once; tests switch brokers often, a process normally uses one.
MAX_PUBLISHING_APPS = 4
_apps: dict[tuple[str, Path | None], Celery] = {}
_apps_lock = threading.Lock()


def publishing_app(settings: Settings) -> Celery:
    """An app that publishes to ``settings``' broker, built once per broker."""
    folder = settings.broker_dir if settings.broker_url.startswith("filesystem://") else None
    key = (settings.broker_url, folder)
    with _apps_lock:
        app = _apps.get(key)
        if app is None:
            if len(_apps) >= MAX_PUBLISHING_APPS:
                _apps.clear()
            app = _apps[key] = make_celery(settings)
        return app


class CelerySender:
    """Publishes with Celery: through ``app`` when given (the worker's own), otherwise through
    the app for the broker the current settings name, looked up per message, so a process whose
    settings change (the tests, ``bridge dev`` preparing its children) follows them."""

    def __init__(self, app: Celery | None = None) -> None:
        self._app = app

    def publish(
        self, task: str, args: Sequence[object], *, queue: str | None, countdown: float | None
    ) -> None:
        app = self._app if self._app is not None else publishing_app(get_settings())
        try:
            app.send_task(task, args=list(args), queue=queue, countdown=countdown, retry=False)
        except (OperationalError, OSError) as exc:
            raise PublishError(str(exc)) from exc
