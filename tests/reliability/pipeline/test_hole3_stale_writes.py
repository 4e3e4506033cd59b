"""Hole 3: steps must not write a state decided on a row they read before someone changed it.

The sweeper (and the warehouse poll) used to load rows without a lock and write their
transition later: a submission that recorded ``submitted`` in between was overwritten. Each
test holds the row lock in a session of its own, as a concurrent step's transaction would,
starts the step, and commits the competing change only once the step has run into the lock
(or finished without it).
"""

from __future__ import annotations

import ast
import re
from datetime import timedelta
from pathlib import Path

from bridge.backends.models import RemoteRef
from bridge.db import new_session, session_scope
from bridge.history import transition
from bridge.models import Order, utcnow
from bridge.pipeline.folders import move_in_process
from bridge.pipeline.poll import poll_warehouse
from bridge.pipeline.shipments import post_shipments
from bridge.pipeline.submit import submit_order
from bridge.pipeline.sweep import sweep
from bridge.sim.warehouse import WarehouseSimulator
from bridge.states import OrderState
from bridge.stores.context import StoreContext
from tests.conftest import reset_caches
from tests.pipeline.conftest import order_row
from tests.reliability.pipeline.conftest import Runner, wait_until_blocked_or_done

PROJECT = Path(__file__).resolve().parents[3]


def test_hole3_the_sweeper_does_not_fail_an_order_whose_submission_is_being_recorded(
    receive, database: str, bridge_env
) -> None:
    bridge_env.setenv("BRIDGE_MAX_ATTEMPTS", "1")
    reset_caches()
    order_id = receive()
    with session_scope() as session:  # claimed for its last attempt; the lease has run out
        order = session.get(Order, order_id)
        transition(session, order, OrderState.SUBMITTING, "submission attempt 1")
        order.attempts = 1
        order.next_attempt_at = utcnow() - timedelta(seconds=1)

    recording = new_session()  # the submission's outcome, being written under the row lock
    try:
        order = recording.get(Order, order_id, with_for_update=True)
        sweeper = Runner(sweep, "sweeper")
        sweeper.start()
        wait_until_blocked_or_done(database, sweeper)
        transition(recording, order, OrderState.SUBMITTED, "accepted by simulated as WH-1")
        order.warehouse_ref = "WH-1"
        order.next_attempt_at = None
        recording.commit()
    finally:
        recording.close()
    report = sweeper.outcome()

    order = order_row(order_id)
    assert order.state == OrderState.SUBMITTED
    assert order.warehouse_ref == "WH-1"
    assert report.failed == 0


def test_hole3_the_poll_does_not_write_a_transition_decided_on_stale_state(
    receive, warehouse: WarehouseSimulator, database: str
) -> None:
    order_id = receive()
    submit_order(order_id)
    store_id = order_row(order_id).store_id
    move_in_process(store_id)
    assert order_row(order_id).state == OrderState.IN_PROCESS
    ref = order_row(order_id)
    with StoreContext.load(store_id).backend() as backend:  # the warehouse reports it cancelled
        backend.cancel(RemoteRef(remote_id=ref.warehouse_ref, key=ref.idempotency_key))

    shipping = new_session()  # shipments being recorded for the order under its row lock
    try:
        order = shipping.get(Order, order_id, with_for_update=True)
        poller = Runner(lambda: poll_warehouse(store_id), "poller")
        poller.start()
        wait_until_blocked_or_done(database, poller)
        transition(shipping, order, OrderState.PARTIALLY_SHIPPED, "1 package(s) in Order Desk")
        shipping.commit()
    finally:
        shipping.close()
    poller.outcome()

    # partially_shipped -> cancelled is not a move the state machine allows.
    assert order_row(order_id).state == OrderState.PARTIALLY_SHIPPED


def test_hole3_posting_shipments_does_not_write_a_shipping_state_decided_on_stale_state(
    receive, warehouse: WarehouseSimulator, database: str
) -> None:
    order_id = receive()
    submit_order(order_id)
    store_id = order_row(order_id).store_id
    move_in_process(store_id)
    warehouse.ship(order_row(order_id).idempotency_key)
    assert poll_warehouse(store_id) == 1

    cancelling = new_session()  # the poll recording a cancellation under the row lock
    try:
        order = cancelling.get(Order, order_id, with_for_update=True)
        poster = Runner(lambda: post_shipments(store_id), "poster")
        poster.start()
        wait_until_blocked_or_done(database, poster)
        transition(cancelling, order, OrderState.CANCELLED, "the warehouse reports it cancelled")
        cancelling.commit()
    finally:
        cancelling.close()
    assert poster.outcome() == 1

    assert order_row(order_id).state == OrderState.CANCELLED


# --- No path writes an order's state except the one transition function ------------------------

SCANNED = ("bridge", "web", "workers")
# The one transition function: it checks the state machine and writes the event with the move.
TRANSITION_FUNCTION = ("bridge/history.py", "transition")
# The intake's two inserts of a new order as `received` (a birth, not a move): the fast path's
# one statement and the full path's upsert.
INTAKE_INSERTS = ("bridge/intake/accept.py", "bridge/intake/decision.py")
RECEIVED_VALUES = ("OrderState.RECEIVED.value", "'received'")
SQL_STATE_UPDATE = re.compile(r"\bupdate\s+orders\b.*\bset\b.*\bstate\b", re.I | re.S)
SQL_ORDER_INSERT = re.compile(r"\binsert\s+into\s+orders\b", re.I)


def _functions(tree: ast.AST) -> dict[ast.AST, str]:
    """Each node's enclosing function name."""
    owner: dict[ast.AST, str] = {}
    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(func):
                owner[node] = func.name
    return owner


def _chain_names(node: ast.AST) -> list[str]:
    """Names called along a method chain such as ``upsert(table).values(...).returning(...)``."""
    names = []
    while isinstance(node, ast.Call | ast.Attribute):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                names.append(func.id)
            elif isinstance(func, ast.Attribute):
                names.append(func.attr)
            node = func.value if isinstance(func, ast.Attribute) else func
        else:
            node = node.value
    return names


def _is_state_key(node: ast.AST | None) -> bool:
    if isinstance(node, ast.Constant):
        return node.value == "state"
    return isinstance(node, ast.Attribute) and node.attr == "state"


def _state_writes(path: Path, relative: str) -> list[str]:
    tree = ast.parse(path.read_text(), filename=relative)
    owner = _functions(tree)
    found: list[str] = []

    def where(node: ast.AST) -> str:
        return f"{relative}:{node.lineno} in {owner.get(node, '<module>')}"

    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if SQL_STATE_UPDATE.search(node.value):
                found.append(f"{where(node)}: SQL UPDATE of orders.state")
            if SQL_ORDER_INSERT.search(node.value) and relative not in INTAKE_INSERTS:
                found.append(f"{where(node)}: SQL INSERT into orders outside the intake")
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            is_state = isinstance(target, ast.Attribute) and target.attr == "state"
            if is_state and (relative, owner.get(node)) != TRANSITION_FUNCTION:
                found.append(f"{where(node)}: assigns .state")
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name == "setattr" and len(node.args) > 1 and _is_state_key(node.args[1]):
            found.append(f"{where(node)}: setattr(..., 'state', ...)")
        if name not in ("values", "update", "Order"):
            continue
        # dict.update(state=...) is everywhere in payload code; Query.update takes a dict.
        keywords = node.keywords if name != "update" else []
        values = {kw.arg: kw.value for kw in keywords if kw.arg == "state"}
        for arg in node.args:
            if isinstance(arg, ast.Dict):
                for key, value in zip(arg.keys, arg.values, strict=True):
                    if _is_state_key(key):
                        values["state"] = value
        if not values:
            continue
        # The one exception: intake inserting a new row as `received` (a birth, not a move).
        chain = _chain_names(node)
        inserting = name == "values" and any(n.endswith(("insert", "upsert")) for n in chain[1:])
        is_received = ast.unparse(values["state"]) in RECEIVED_VALUES
        if inserting and is_received and relative in INTAKE_INSERTS:
            continue
        found.append(f"{where(node)}: {ast.unparse(node)[:80]}")
    return found


def test_hole3_only_the_transition_function_writes_an_orders_state() -> None:
    offenders = []
    for folder in SCANNED:
        for path in sorted((PROJECT / folder).rglob("*.py")):
            relative = path.relative_to(PROJECT).as_posix()
            if relative.startswith("bridge/sim/"):
                continue  # the simulators' own records, not our orders
            offenders += _state_writes(path, relative)
    assert offenders == []


def test_hole3_the_scan_sees_the_ways_a_state_can_be_written(tmp_path: Path) -> None:
    """The scanner itself: each forbidden form is caught, the intake's insert is not."""
    source = tmp_path / "sample.py"
    source.write_text(
        "def claim(session, order):\n"
        "    order.state = 'submitting'\n"
        "    setattr(order, 'state', 'failed')\n"
        "    session.execute(update(Order).values(state='failed'))\n"
        "    session.execute(update(Order).values({Order.state: 'failed'}))\n"
        "    session.query(Order).update({'state': 'failed'})\n"
        "    payload['shipping'].update(state='CA')\n"
        "    session.add(Order(state='submitted'))\n"
        "def _insert(session, upsert, table):\n"
        "    upsert(table).values(id=1, state=OrderState.RECEIVED.value).returning(table.c.id)\n"
        "    session.execute(text('UPDATE orders SET attempts = 0, state = :s'))\n"
        "NEW = 'INSERT INTO orders (store_id, state) VALUES (%(store_id)s, %(state)s)'\n"
    )
    assert len(_state_writes(source, "bridge/pipeline/sample.py")) == 9
    for allowed in INTAKE_INSERTS:
        assert len(_state_writes(source, allowed)) == 7
    # Anywhere else in the intake the insert counts as a write, as everywhere else.
    assert len(_state_writes(source, "bridge/intake/full.py")) == 9
