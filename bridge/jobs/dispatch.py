"""Hand a message to the broker without ever letting a broker outage fail the caller.

The database row is already committed when we get here, so a message that cannot be sent is
not lost work: the sweeper finds the row and sends it later. Publishing is therefore one quick
try (no retry loop that would hold up a webhook response), and failure is logged, not raised.

The core does not know how messages travel: each entry point (the worker, the web app, the
``bridge`` command, the tests) installs a ``Sender`` at startup with ``install_sender``. The
Celery one lives in ``bridge.jobs.celery_config``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import structlog

from bridge.jobs import queues

log = structlog.get_logger(__name__)


class PublishError(RuntimeError):
    """The broker did not take the message (down, refused, timed out)."""


class NoSenderInstalled(RuntimeError):
    """A message was sent before the process installed a sender."""


class Sender(Protocol):
    """Puts one message on the broker, or raises ``PublishError``."""

    def publish(
        self, task: str, args: Sequence[object], *, queue: str | None, countdown: float | None
    ) -> None: ...


_sender: Sender | None = None


def install_sender(sender: Sender | None) -> Sender | None:
    """Make ``sender`` carry this process's messages; returns the one it replaces."""
    global _sender
    previous, _sender = _sender, sender
    return previous


def send(task_name: str, *args: object, countdown: float | None = None) -> bool:
    """Publish ``task_name(*args)`` on its route's queue; True when the broker took it."""
    if _sender is None:
        raise NoSenderInstalled(
            f"cannot send {task_name}: no message sender is installed in this process; call "
            "bridge.jobs.dispatch.install_sender(CelerySender()) (bridge.jobs.celery_config) at "
            "startup, as the worker, the web app and the bridge command do"
        )
    try:
        _sender.publish(task_name, args, queue=queues.ROUTES.get(task_name), countdown=countdown)
    except PublishError as exc:
        log.warning("enqueue_failed", task=task_name, args=list(args), error=str(exc))
        return False
    return True
