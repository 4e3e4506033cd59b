"""The pieces of ``bridge dev`` that need no running system: demo orders, child supervision,
and the progress output without a terminal."""

from __future__ import annotations

import io
import time
from pathlib import Path

from rich.console import Console

from bridge.backends.fulfillment import to_fulfillment_order
from bridge.devrun import bootstrap
from bridge.devrun.progress import NOT_RECEIVED, OrderStatus, ProgressDisplay, Snapshot
from bridge.devrun.samples import sample_orders
from bridge.devrun.supervisor import Supervisor
from bridge.orderdesk.payload import Order
from tests.devrun.support import clean_environment, group_members, wait_for


def test_demo_orders_are_all_fulfillable_varied_and_repeatable() -> None:
    orders = sample_orders(25)

    # The Order Desk simulator gives each order its id when it is created.
    fulfillment = [
        to_fulfillment_order(Order.model_validate({**order, "id": str(number)}))
        for number, order in enumerate(orders, start=1)
    ]
    assert all(order.lines for order in fulfillment)
    assert len({order["shipping"]["country"] for order in orders}) > 1
    assert len({tuple(i["code"] for i in order["order_items"]) for order in orders}) > 5
    assert sample_orders(25) == orders
    assert sample_orders(25, seed=1) != orders


def test_stop_ends_the_whole_process_group(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path / "logs", clean_environment())
    child = supervisor.start("pair", ["sh", "-c", "sleep 60 & sleep 60 & wait"])
    assert wait_for(lambda: len(group_members(child.pid)) == 3, timeout=10)

    codes = supervisor.stop(grace=10)

    assert codes == {"pair": -15}
    # SIGKILL is delivered asynchronously: the group empties within moments, never later.
    assert wait_for(lambda: group_members(child.pid) == [], timeout=5)


def test_stop_kills_a_child_that_ignores_sigterm_after_the_grace(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path / "logs", clean_environment())
    child = supervisor.start("stubborn", ["sh", "-c", "trap '' TERM; echo armed; sleep 60"])
    assert wait_for(lambda: "armed" in child.log_text(), timeout=10)

    started = time.monotonic()
    codes = supervisor.stop(grace=0.5)

    assert codes == {"stubborn": -9}
    assert time.monotonic() - started < 5
    # SIGKILL is delivered asynchronously: the group empties within moments, never later.
    assert wait_for(lambda: group_members(child.pid) == [], timeout=5)


def test_a_child_that_exits_is_reported_with_its_log(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path / "logs", clean_environment(GREETING="bye"))
    command = ["sh", "-c", 'echo "$GREETING $EXTRA"; exit 3']
    child = supervisor.start("short", command, {"EXTRA": "x"})
    assert wait_for(lambda: child.exit_code() is not None, timeout=10)

    assert supervisor.exited() == [child]
    assert child.exit_code() == 3
    assert child.log_tail() == "bye x"


def test_without_a_terminal_one_line_is_printed_per_change() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, soft_wrap=True)
    waiting = Snapshot((OrderStatus("1", NOT_RECEIVED), OrderStatus("2", "received")))
    done = Snapshot((OrderStatus("1", "shipped"), OrderStatus("2", "shipped")))

    with ProgressDisplay(console, [("Web", "http://127.0.0.1:1")]) as display:
        display.update(waiting, 0.1)
        display.update(waiting, 0.6)
        display.update(done, 1.1)

    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert "not_received=1 received=1" in lines[0] and "shipped=0" in lines[0]
    assert "shipped=2" in lines[1]
    assert not waiting.all_shipped and done.all_shipped
    assert [o.orderdesk_order_id for o in waiting.unfinished()] == ["1", "2"]


def test_the_dev_worker_serves_no_metrics_unless_asked(tmp_path: Path) -> None:
    """A production 9808 in the caller's environment is not inherited: the demo's worker would
    otherwise take a real worker's port, or fail to get it."""
    paths = bootstrap.DevPaths(tmp_path)
    parent = {"BRIDGE_METRICS_PORT": "9808"}
    off = bootstrap.dev_environment(parent, paths, "http://127.0.0.1:1/api/v2")
    asked = bootstrap.dev_environment(parent, paths, "http://127.0.0.1:1/api/v2", 19808)
    assert off["BRIDGE_METRICS_PORT"] == "0"
    assert asked["BRIDGE_METRICS_PORT"] == "19808"
