"""The pipeline's fixtures (both simulators, a registered store, real PostgreSQL and Redis), for
the tests that show the retry policy at work in a step."""

from tests.pipeline.conftest import broker, orderdesk, receive, store, warehouse, warehouse_kind

__all__ = ["broker", "orderdesk", "receive", "store", "warehouse", "warehouse_kind"]
