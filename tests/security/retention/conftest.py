"""The operator tests' fixtures (seeded orders, the CLI, the admin client), for retention."""

from tests.ops.conftest import (  # noqa: F401 (fixtures used by these tests)
    admin_app,
    admin_client,
    audited_store,
    broker,
    cli,
    orderdesk,
    seed_audited,
    seed_order,
    store,
    warehouse,
)
