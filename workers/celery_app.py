"""The worker's Celery app: the job system's configuration plus the tasks in ``workers.tasks``.

Configuration lives in ``bridge.jobs.celery_config``; this module only builds the app, hands the
core its sender when the worker starts (so the steps' follow-up messages go out through this
app), routes Celery's logging through the bridge's structured setup, and loads
``workers.metrics``, whose signal handlers serve the worker's ``/metrics``.
"""

from __future__ import annotations

from typing import Any

from celery import signals

from bridge.errortracking import init_error_tracking
from bridge.jobs.celery_config import CelerySender, make_celery
from bridge.jobs.dispatch import install_sender
from bridge.logs import configure_logging
from bridge.settings import get_settings
from workers import liveness, metrics

__all__ = ["app", "metrics"]

app = make_celery(get_settings(), include=["workers.tasks"])
liveness.install(app)


@signals.worker_init.connect
def _install_sender(**_: Any) -> None:
    """The steps publish their follow-up work through the worker's own app."""
    install_sender(CelerySender(app))


@signals.setup_logging.connect
def _bridge_logging(**_: Any) -> None:
    """Workers and beat log through the same structured setup as the web process."""
    configure_logging(get_settings())


@signals.worker_init.connect
@signals.beat_init.connect
def _error_tracking(**_: Any) -> None:
    """Sentry (when SENTRY_DSN is set) in the worker's main process, before it forks its pool."""
    init_error_tracking(get_settings())


def _json_logs() -> bool:
    return get_settings().log_format == "json"


@signals.celeryd_init.connect
def _quiet_worker(instance: Any, **_: Any) -> None:
    """With JSON logs every line a worker writes is JSON: no start-up banner (queues and tasks
    are in the logs and in Flower), and logging is set up before Celery's first warning."""
    configure_logging(get_settings())
    if _json_logs():
        instance.quiet = True


class _Beat(app.Beat):  # type: ignore[name-defined, misc]
    """Beat without its start-up banner when the logs are JSON (as the worker above)."""

    def __init__(self, *args: Any, quiet: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, quiet=quiet or _json_logs(), **kwargs)


app.Beat = _Beat
