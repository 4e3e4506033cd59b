"""The operator fixtures (a registered store, seeded orders, a broker to count messages in, the
audit's simulators) are those of ``tests/ops``, shared rather than copied."""

from tests.ops.conftest import (  # noqa: F401
    audited_store,
    broker,
    cli,
    orderdesk,
    seed_audited,
    seed_order,
    store,
    warehouse,
)
