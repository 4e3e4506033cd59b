"""The bridge as real processes (the end-to-end suite's fixtures) for the metrics tests."""

from tests.e2e.conftest import (  # noqa: F401  (fixtures used by this folder's tests)
    bridge,
    broker_url,
    orderdesk,
    warehouse,
)
