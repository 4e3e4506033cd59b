"""The Celery tasks: thin doors into ``bridge.pipeline``, each with a stable name.

Arguments are row ids only (never payloads or keys), so Flower shows what a task is about and
nothing secret. Every task goes through ``BridgeTask``: it binds the task id and arguments to
the log context and times the run. Per-store steps retry what the one retry policy
(``bridge.jobs.retry``) calls retryable, after its delay and up to its limit; the submit step
keeps its attempt count in PostgreSQL instead (a poison order must be parked after N deliveries
even if its messages are redelivered forever).
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from celery import Task
from celery.exceptions import Retry

from bridge.jobs import followups, leases, queues
from bridge.jobs.celery_config import TASK_TIME_LIMIT
from bridge.jobs.retry import RETRYABLE, come_back_after, delay_after, task_max_retries
from bridge.metrics import TASK_SECONDS
from bridge.ops import retention
from bridge.pipeline import (
    cancel,
    edits,
    folders,
    inventory,
    newwork,
    notes,
    parking,
    poll,
    reconcile,
    shipments,
    submit,
    sweep,
)
from workers.celery_app import app

log = structlog.get_logger(__name__)


class Deferred(Retry):
    """The task gave its slot back to wait for a partner's tokens; not a failed attempt."""


class BridgeTask(Task):
    """Log context, timing and metrics for every task, in one place."""

    abstract = True
    acks_late = True
    reject_on_worker_lost = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        structlog.contextvars.bind_contextvars(
            task=self.name, task_id=self.request.id, args=list(args)
        )
        started = time.perf_counter()
        outcome = "ok"
        try:
            return super().__call__(*args, **kwargs)
        except Deferred:
            outcome = "deferred"
            raise
        except Retry:
            outcome = "retry"
            raise
        except Exception:
            outcome = "error"
            raise
        finally:
            elapsed = time.perf_counter() - started
            TASK_SECONDS.labels(self.name, outcome).observe(elapsed)
            log.info("task_done", outcome=outcome, ms=round(elapsed * 1000, 1))
            structlog.contextvars.clear_contextvars()

    def retry(
        self,
        args: Any = None,
        kwargs: Any = None,
        exc: BaseException | None = None,
        throw: bool = True,
        eta: Any = None,
        countdown: float | None = None,
        max_retries: int | None = None,
        **options: Any,
    ) -> Any:
        """Retry after the policy's delay: growing with each retry, capped, at least the
        server's own wait (``autoretry_for`` calls this without a countdown).

        A step that only found a partner's budget spent is not retried but deferred: sent again
        with the same retry count, after the wait its tokens need.
        """
        wait = come_back_after(exc) if exc is not None else None
        if wait is not None and not self.request.is_eager:
            self.defer(exc, wait)
        if countdown is None and eta is None and exc is not None:
            countdown = delay_after(exc, self.request.retries + 1)
        return super().retry(args, kwargs, exc, throw, eta, countdown, max_retries, **options)

    def defer(self, exc: BaseException | None, wait: float) -> None:
        """Give the worker slot back: the same message again in ``wait`` seconds, this one
        acknowledged. The step's state is in PostgreSQL and every step is idempotent, so a
        message redelivered between the two (a worker killed right here) only repeats a no-op.
        """
        again = self.signature_from_request(
            self.request, countdown=wait, retries=self.request.retries
        )
        again.apply_async()
        log.info("task_deferred", wait=round(wait, 3), reason=str(exc))
        raise Deferred(exc=exc, when=wait, sig=again)


# Any other error is a bug or a permanent refusal: not retried, logged loudly.
per_store = {
    "base": BridgeTask,
    "autoretry_for": RETRYABLE,
    "max_retries": task_max_retries(),
}


@app.task(name=queues.SUBMIT_ORDER, base=BridgeTask)
def submit_order(order_id: int) -> int:
    return submit.submit_order(order_id)


@app.task(name=queues.DRAIN_NEW_ORDERS, base=BridgeTask)
def drain_new_orders() -> int:
    return newwork.drain_new_orders()


@app.task(name=queues.CANCEL_ORDER, base=BridgeTask)
def cancel_order(order_id: int) -> str:
    return cancel.cancel_order(order_id)


@app.task(name=queues.PUSH_EDIT, **per_store)
def push_edit(order_id: int) -> str:
    return edits.push_edit(order_id)


@app.task(name=queues.MOVE_IN_PROCESS, **per_store)
def move_in_process(store_id: int) -> int:
    return folders.move_in_process(store_id)


@app.task(name=queues.POST_SHIPMENTS, **per_store)
def post_shipments(store_id: int) -> int:
    return shipments.post_shipments(store_id)


@app.task(name=queues.ADD_HISTORY_NOTE, **per_store)
def add_history_note(order_id: int, kind: str, detail: str = "") -> bool:
    return notes.add_history_note(order_id, kind, detail)


@app.task(name=queues.PARK_IN_ORDERDESK, **per_store)
def park_in_orderdesk(order_id: int) -> None:
    parking.park_in_orderdesk(order_id)


@app.task(name=queues.POLL_WAREHOUSE, **per_store)
def poll_warehouse(store_id: int) -> int:
    return poll.poll_warehouse(store_id)


@app.task(name=queues.SYNC_INVENTORY, **per_store)
def sync_inventory(store_id: int) -> dict[str, Any]:
    return inventory.sync_inventory(store_id).to_dict()


@app.task(name=queues.SWEEP, base=BridgeTask)
def sweep_task() -> dict[str, int]:
    return vars(sweep.sweep())


@app.task(name=queues.SCHEDULE_POLLS, base=BridgeTask)
def schedule_polls() -> list[int]:
    return sweep.schedule_polls()


@app.task(name=queues.RECONCILE, base=BridgeTask)
def reconcile_stores() -> list[int]:
    return reconcile.schedule_reconciles()


@app.task(name=queues.RECONCILE_STORE, **per_store)
def reconcile_store(store_id: int) -> dict[str, Any]:
    return vars(reconcile.reconcile_store(store_id))


# Leaves time to finish the batch in hand before the task's soft time limit.
RETENTION_BUDGET_SECONDS = TASK_TIME_LIMIT - 90


@app.task(name=queues.RETENTION, base=BridgeTask)
def retention_task() -> dict[str, object]:
    """Daily pruning; a run cut short by its time budget sends itself again to carry on."""
    with leases.held("retention", ttl=TASK_TIME_LIMIT) as mine:
        if not mine:
            return {"skipped": "another retention run holds the lease"}
        report = retention.prune(time_budget=RETENTION_BUDGET_SECONDS)
    if not report.complete:
        # No transaction of its own to follow: the pruning committed batch by batch.
        followups.publish([followups.Message(queues.RETENTION, (), countdown=60)])
    return {**vars(report), "cutoff": report.cutoff.isoformat()}
