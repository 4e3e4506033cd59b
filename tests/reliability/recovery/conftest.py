"""Fixtures for the missed-webhook recovery tests: the end-to-end ones from ``tests/e2e``.

``bridge`` registers the store against the Order Desk and warehouse simulators and points the
settings at PostgreSQL and Redis; tests that only need a reconciliation pass call it in-process
and never start the bridge's processes.
"""

from tests.e2e.conftest import bridge, broker_url, orderdesk, warehouse

__all__ = ["bridge", "broker_url", "orderdesk", "warehouse"]
