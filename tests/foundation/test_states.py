"""The state machine allows the documented moves, refuses the rest, and records every move."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bridge.db import session_scope
from bridge.history import transition
from bridge.models import Order, OrderEvent, Store
from bridge.states import (
    TERMINAL,
    TRANSITIONS,
    IllegalTransition,
    OrderState,
    can_move,
    check_move,
)

S = OrderState
# The main line, in order: no order ever moves back along it.
MAIN_LINE = [S.RECEIVED, S.SUBMITTING, S.SUBMITTED, S.IN_PROCESS, S.PARTIALLY_SHIPPED, S.SHIPPED]


def test_every_state_has_a_row() -> None:
    assert set(TRANSITIONS) == set(OrderState)
    assert {S.SHIPPED, S.CANCELLED} == TERMINAL


@pytest.mark.parametrize(
    ("later", "earlier"),
    [(b, a) for i, a in enumerate(MAIN_LINE) for b in MAIN_LINE[i + 1 :]],
)
def test_main_line_never_moves_backwards(later: OrderState, earlier: OrderState) -> None:
    assert not can_move(later, earlier)
    with pytest.raises(IllegalTransition, match=f"from {later} to {earlier}"):
        check_move(later, earlier)


@pytest.mark.parametrize("state", list(OrderState))
def test_no_state_moves_to_itself(state: OrderState) -> None:
    assert not can_move(state, state)


def test_terminal_states_accept_nothing() -> None:
    for terminal in TERMINAL:
        for target in OrderState:
            assert not can_move(terminal, target)


def _order(session) -> Order:
    store = Store(orderdesk_store_id="1", name="s", api_key_encrypted="x", backend="simulated")
    order = Order(
        store=store,
        orderdesk_order_id="100",
        payload={},
        payload_sha256="0" * 64,
        idempotency_key="od-1-100",
    )
    session.add(order)
    session.flush()
    return order


def test_each_allowed_move_records_an_event(database: str) -> None:
    path = [S.SUBMITTING, S.SUBMITTED, S.IN_PROCESS, S.PARTIALLY_SHIPPED, S.SHIPPED]
    with session_scope() as session:
        order = _order(session)
        for target in path:
            transition(session, order, target, f"to {target}", step=str(target))
        order_id = order.id
    with session_scope() as session:
        events = session.scalars(
            select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
        ).all()
        order = session.get(Order, order_id)
        assert [(e.from_state, e.to_state) for e in events] == list(
            zip([S.RECEIVED, *path[:-1]], path, strict=True)
        )
        assert events[0].detail == {"step": "submitting"}
        assert order.state == S.SHIPPED
        assert order.submitted_at and order.in_process_at and order.shipped_at


def test_refused_move_changes_nothing(database: str) -> None:
    with session_scope() as session:
        order = _order(session)
        transition(session, order, S.SUBMITTING, "claim")
        transition(session, order, S.SUBMITTED, "accepted")
        with pytest.raises(IllegalTransition):
            transition(session, order, S.RECEIVED, "late duplicate")
        assert order.state == S.SUBMITTED
        assert len(session.scalars(select(OrderEvent)).all()) == 2


def _transitions_counted(state: OrderState) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("bridge_order_transitions_total", {"state": state.value}) or 0


def test_transition_counts_each_move_and_a_refused_move_counts_nothing(database: str) -> None:
    before = {state: _transitions_counted(state) for state in (S.SUBMITTING, S.RECEIVED)}
    with session_scope() as session:
        order = _order(session)
        transition(session, order, S.SUBMITTING, "claim")
        with pytest.raises(IllegalTransition):
            transition(session, order, S.RECEIVED, "not allowed")
    assert _transitions_counted(S.SUBMITTING) == before[S.SUBMITTING] + 1
    assert _transitions_counted(S.RECEIVED) == before[S.RECEIVED]


def test_event_kinds_are_named_once_and_the_transition_metric_has_one_writer() -> None:
    """No step records an event with a bare string kind or counts a transition by hand."""
    import ast
    from pathlib import Path

    import bridge

    root = Path(bridge.__file__).parent
    offences = []
    for path in sorted(root.rglob("*.py")):
        if "sim" in path.relative_to(root).parts:
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "record":
                kind = node.args[2] if len(node.args) > 2 else None
                if isinstance(kind, ast.Constant):
                    offences.append(f"{path}:{node.lineno} record(..., {kind.value!r})")
            if (
                isinstance(node, ast.Name)
                and node.id == "ORDER_TRANSITIONS"
                and path.name not in ("history.py", "metrics.py")
            ):
                offences.append(f"{path}:{node.lineno} counts a transition by hand")
    assert offences == []
