"""Where the demo batch is: counts per order state, read from the database, shown live.

The database is the record of truth, so progress is read from it (every 0.5 s) rather than
inferred from logs. On a terminal a ``rich`` live table redraws in place; without one (CI, a
pipe) one plain line is printed per change, so logs of a test run stay short and greppable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from sqlalchemy import select

from bridge.db import session_scope
from bridge.models import Order, Store
from bridge.states import OrderState

# Posted by the Order Desk simulator but not (yet) recorded by the intake.
NOT_RECEIVED = "not_received"
SHOWN_STATES: tuple[str, ...] = (
    NOT_RECEIVED,
    OrderState.RECEIVED.value,
    OrderState.SUBMITTING.value,
    OrderState.SUBMITTED.value,
    OrderState.IN_PROCESS.value,
    OrderState.PARTIALLY_SHIPPED.value,
    OrderState.SHIPPED.value,
    OrderState.REJECTED.value,
    OrderState.FAILED.value,
)
# Seen only when something cancels a demo order; shown then, hidden otherwise.
OCCASIONAL_STATES = (OrderState.CANCEL_REQUESTED.value, OrderState.CANCELLED.value)


@dataclass(frozen=True)
class OrderStatus:
    orderdesk_order_id: str
    state: str
    last_error: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """The batch's orders by state; orders the intake has not recorded count as not received."""

    orders: tuple[OrderStatus, ...]

    def count(self, state: str) -> int:
        return sum(1 for order in self.orders if order.state == state)

    def counts(self) -> dict[str, int]:
        shown = list(SHOWN_STATES) + [s for s in OCCASIONAL_STATES if self.count(s)]
        return {state: self.count(state) for state in shown}

    @property
    def total(self) -> int:
        return len(self.orders)

    @property
    def all_shipped(self) -> bool:
        return self.count(OrderState.SHIPPED.value) == self.total

    def unfinished(self) -> list[OrderStatus]:
        return [order for order in self.orders if order.state != OrderState.SHIPPED.value]

    def line(self) -> str:
        return " ".join(f"{state}={n}" for state, n in self.counts().items())


def read_snapshot(store_id: str, orderdesk_order_ids: Sequence[str]) -> Snapshot:
    """The state of each of ``orderdesk_order_ids`` in the store, in the given order."""
    with session_scope() as session:
        rows = session.execute(
            select(Order.orderdesk_order_id, Order.state, Order.last_error, Order.reason)
            .join(Store, Order.store_id == Store.id)
            .where(
                Store.orderdesk_store_id == store_id,
                Order.orderdesk_order_id.in_(list(orderdesk_order_ids)),
            )
        ).all()
    found = {row[0]: OrderStatus(*row) for row in rows}
    return Snapshot(
        tuple(found.get(od_id) or OrderStatus(od_id, NOT_RECEIVED) for od_id in orderdesk_order_ids)
    )


class ProgressDisplay:
    """A live table on a terminal, a line per change elsewhere."""

    def __init__(self, console: Console, links: Sequence[tuple[str, str]]) -> None:
        self.console = console
        self.links = list(links)
        self._live: Live | None = None
        self._last_line = ""

    def __enter__(self) -> ProgressDisplay:
        if self.console.is_terminal:
            self._live = Live(console=self.console, auto_refresh=False, transient=False)
            self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, traceback)
            self._live = None

    def update(self, snapshot: Snapshot, elapsed: float) -> None:
        if self._live is not None:
            self._live.update(self._render(snapshot, elapsed), refresh=True)
            return
        line = snapshot.line()
        if line != self._last_line:
            self._last_line = line
            self.console.print(f"[{elapsed:6.1f}s] {line}", highlight=False)

    def _render(self, snapshot: Snapshot, elapsed: float) -> Group:
        links = Table.grid(padding=(0, 2))
        for label, where in self.links:
            links.add_row(label, where)
        states = Table(title=f"{snapshot.total} demo orders, {elapsed:.0f}s", min_width=40)
        states.add_column("state")
        states.add_column("orders", justify="right")
        for state, count in snapshot.counts().items():
            style = "bold green" if state == OrderState.SHIPPED.value and count else None
            if state in (OrderState.FAILED.value, OrderState.REJECTED.value) and count:
                style = "bold red"
            states.add_row(state, str(count), style=style)
        return Group(links, states, "Ctrl-C stops everything.")
