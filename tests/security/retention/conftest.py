"""The operator tests' fixtures (seeded orders, the CLI, the admin client), for retention."""

from tests.ops.conftest import (  # noqa: F401 (fixtures used by these tests)
    admin_client,
    broker,
    cli,
    seed_order,
    store,
)
