"""Migrations build the schema on empty PostgreSQL and SQLite databases and tear it down again."""

from __future__ import annotations

import pytest
from alembic.util import CommandError
from sqlalchemy import inspect

from bridge import migrate
from bridge.db import create_bridge_engine
from bridge.models import Base

TABLES = {t.name for t in Base.metadata.sorted_tables}


def _tables(url: str) -> set[str]:
    engine = create_bridge_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_upgrade_then_downgrade_to_base(kind: str, fresh_pg_url: str, tmp_path) -> None:
    url = fresh_pg_url if kind == "postgresql" else f"sqlite:///{tmp_path / 'bridge.db'}"
    migrate.upgrade(url)
    assert _tables(url) == TABLES
    assert {"stores", "orders", "shipments", "order_events", "webhook_receipts"} <= TABLES
    migrate.check(url)
    migrate.downgrade(url, "base")
    assert _tables(url) == set()


def test_check_fails_when_models_drift(fresh_pg_url: str) -> None:
    migrate.upgrade(fresh_pg_url)
    engine = create_bridge_engine(fresh_pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE orders DROP COLUMN reason")
    engine.dispose()
    with pytest.raises(CommandError, match="New upgrade operations detected"):
        migrate.check(fresh_pg_url)
