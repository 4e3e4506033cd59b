"""Send the orders the intake queued in Redis on to the submit step (``bridge.jobs.handoff``).

Runs on a worker when a webhook woke it: the per-order Celery messages the web process no longer
builds are built here, off the webhook's path, one ``bridge.submit_order`` per order.
"""

from __future__ import annotations

import structlog

from bridge.jobs import followups, handoff, queues
from bridge.jobs.followups import Message

log = structlog.get_logger(__name__)


def drain_new_orders() -> int:
    """Send a submit for every queued order; return how many were taken from the list."""
    taken = 0
    for batch in handoff.take_new_orders():
        sent = followups.publish([Message(queues.SUBMIT_ORDER, (row_id,)) for row_id in batch])
        taken += len(batch)
        if not all(sent):
            # The rows stay `received`: the sweeper sends them once their grace period is over.
            log.warning("drain_publish_failed", orders=len(batch), sent=sum(sent))
    return taken
