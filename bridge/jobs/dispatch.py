"""Hand work to Celery without ever letting a broker outage fail the caller.

The database row is already committed when we get here, so a message that cannot be sent is
not lost work: the sweeper finds the row and sends it later. Publishing is therefore one quick
try (no retry loop that would hold up a webhook response), and failure is logged, not raised.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import structlog
from celery import Celery
from kombu.exceptions import OperationalError

from bridge.jobs import queues
from bridge.settings import get_settings

log = structlog.get_logger(__name__)


@lru_cache(maxsize=4)
def _app_for(broker_url: str) -> Celery:
    from workers.celery_app import app, make_celery

    # The process-wide app was configured at import; a process whose settings changed since
    # (tests, `bridge dev` preparing children) publishes through an app for the current URL.
    return app if app.conf.broker_url == broker_url else make_celery(get_settings())


def send(task_name: str, *args: Any, countdown: float | None = None) -> bool:
    """Publish ``task_name(*args)``; True when the broker took it."""
    app = _app_for(get_settings().broker_url)
    try:
        app.send_task(
            task_name,
            args=list(args),
            queue=queues.ROUTES.get(task_name),
            countdown=countdown,
            retry=False,
        )
    except (OperationalError, OSError) as exc:
        log.warning("enqueue_failed", task=task_name, args=list(args), error=str(exc))
        return False
    return True


def submit_order(order_id: int) -> bool:
    return send(queues.SUBMIT_ORDER, order_id)
