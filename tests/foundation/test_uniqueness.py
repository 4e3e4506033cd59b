"""One row per store + Order Desk order id, even when two transactions race to insert it."""

from __future__ import annotations

import threading

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bridge.db import new_session, session_scope
from bridge.models import Order, Store


def test_concurrent_inserts_leave_one_row(database: str) -> None:
    with session_scope() as session:
        store = Store(orderdesk_store_id="7", name="s", api_key_encrypted="x", backend="simulated")
        session.add(store)
        session.flush()
        store_id = store.id

    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def insert(n: int) -> None:
        session = new_session()
        try:
            session.execute(select(1))  # both transactions are open before either inserts
            barrier.wait(timeout=5)
            session.add(
                Order(
                    store_id=store_id,
                    orderdesk_order_id="555",
                    payload={"n": n},
                    payload_sha256=str(n) * 64,
                    idempotency_key="od-7-555",
                )
            )
            session.commit()
            outcomes.append("committed")
        except IntegrityError:
            session.rollback()
            outcomes.append("refused")
        finally:
            session.close()

    threads = [threading.Thread(target=insert, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert sorted(outcomes) == ["committed", "refused"]
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 1
