"""Order retention: when an order's payload was blanked, and an index of the orders due.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 08:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bridge.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "orders", sa.Column("pruned_at", bridge.models.UTCDateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_orders_retention_due",
        "orders",
        ["updated_at"],
        unique=False,
        postgresql_where=sa.text(bridge.models.RETENTION_DUE),
        sqlite_where=sa.text(bridge.models.RETENTION_DUE),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_orders_retention_due",
        table_name="orders",
        postgresql_where=sa.text(bridge.models.RETENTION_DUE),
        sqlite_where=sa.text(bridge.models.RETENTION_DUE),
    )
    op.drop_column("orders", "pruned_at")
