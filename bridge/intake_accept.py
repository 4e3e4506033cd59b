"""Accepting a new order in one PostgreSQL statement: the order row and its receipt, or nothing.

Most webhooks are the first delivery of an order to a known store. For those the full path
(``bridge.intake``) spent six round trips: pre-ping, BEGIN, the store lookup, two INSERTs and
COMMIT. Here one statement in autocommit does the work, atomically: it checks that the store is
still the one the caller's snapshot describes (active, same ``updated_at``), inserts the order
unless it exists (``ON CONFLICT DO NOTHING`` with no target: a racing insert of the same order
meets the idempotency key's unique index as well as (store, Order Desk id)'s), and writes the
``accepted`` receipt only if the order was inserted. It answers the new row's id, or None when
anything did not hold; the caller then takes the full path, which decides duplicates, refreshes,
parking and cancellations and writes the receipt for those. PostgreSQL only: SQLite
(``bridge dev``) cannot INSERT inside WITH, and speed does not matter there.

The columns written must match what the full path writes for the same webhook;
``tests/intake/test_accept.py`` compares the two rows column by column.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from bridge.db import statement_engine_for

ACCEPT_NEW_ORDER = """
WITH live_store AS (
    SELECT id FROM stores
    WHERE id = %(store_id)s AND active AND updated_at = %(store_updated_at)s
), new_order AS (
    INSERT INTO orders (
        store_id, orderdesk_order_id, order_number, payload, payload_sha256,
        orderdesk_updated_at, state, idempotency_key, attempts, changed_after_submission,
        created_at, updated_at
    )
    SELECT
        live_store.id, %(orderdesk_order_id)s, %(order_number)s, CAST(%(payload)s AS jsonb),
        %(payload_sha256)s, %(orderdesk_updated_at)s, %(state)s, %(idempotency_key)s, 0, false,
        %(received_at)s, %(received_at)s
    FROM live_store
    ON CONFLICT DO NOTHING
    RETURNING id
), receipt AS (
    INSERT INTO webhook_receipts (
        received_at, store_id, claimed_store_id, orderdesk_order_id, outcome, http_status,
        reason, body_sha256, body_bytes, remote_addr
    )
    SELECT
        %(received_at)s, %(store_id)s, %(claimed_store_id)s, %(orderdesk_order_id)s,
        %(outcome)s, %(http_status)s, %(reason)s, %(body_sha256)s, %(body_bytes)s,
        %(remote_addr)s
    FROM new_order
)
SELECT id FROM new_order
"""


def accept_new_order(
    database_url: str,
    order: Mapping[str, Any],
    receipt: Mapping[str, Any],
    store_updated_at: datetime,
) -> int | None:
    """The new order's id, or None when the store changed or the order already exists.

    ``order`` holds the row's values with ``payload`` as the JSON text Order Desk signed (cast
    to JSONB by PostgreSQL, so nothing is serialised twice); ``receipt`` the receipt's values.
    """
    parameters = {**receipt, **order, "store_updated_at": store_updated_at}
    engine = statement_engine_for(database_url)
    try:
        return _execute(engine, parameters)
    except DBAPIError as exc:
        # No pre-ping on this engine: a connection the server dropped while it sat in the pool
        # fails once, the pool discards it, and the statement runs again on a fresh one. Safe to
        # repeat: if the first try had committed after all, the second finds the order and the
        # caller's full path answers it as a duplicate (the sweeper then sends it on).
        if not exc.connection_invalidated:
            raise
    return _execute(engine, parameters)


def _execute(engine: Engine, parameters: Mapping[str, Any]) -> int | None:
    with engine.connect() as connection:
        return connection.exec_driver_sql(ACCEPT_NEW_ORDER, parameters).scalar()
