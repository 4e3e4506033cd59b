"""Coalesce a burst of triggers into one run of a per-store step.

Fifty orders accepted within two seconds each want "move my store's submitted orders to In
Process". Sending fifty messages would cost up to fifty ``move-orders`` calls of one order each.
Instead the first trigger takes a "pending" lease and sends one delayed message; later triggers
see the lease and do nothing; the step clears the lease as it starts, so anything arriving after
that schedules the next run. The lease expires on its own, so a lost message delays work by its
TTL at most (and the sweeper catches it anyway).
"""

from __future__ import annotations

from enum import Enum

from bridge.jobs import dispatch, leases

SLACK_SECONDS = 30.0


class Trigger(Enum):
    """What one trigger did."""

    SENT = "sent"  # this trigger sent the run
    PENDING = "pending"  # a run was already scheduled; it covers this trigger too
    FAILED = "failed"  # the broker refused the message; the lease is released again


def _name(task: str, row_id: int) -> str:
    return f"pending:{task}:{row_id}"


def schedule_once(task: str, row_id: int, delay: float) -> Trigger:
    """Send ``task(row_id)`` in ``delay`` seconds unless one is already pending."""
    name = _name(task, row_id)
    owner = leases.new_owner()
    if not leases.acquire(name, owner, ttl=delay + SLACK_SECONDS):
        return Trigger.PENDING
    if dispatch.send(task, row_id, countdown=delay):
        return Trigger.SENT
    leases.release(name, owner)
    return Trigger.FAILED


def starting(task: str, row_id: int) -> None:
    """Called by the step as it begins: triggers from now on schedule a fresh run."""
    leases.clear(_name(task, row_id))
