"""Missed-webhook recovery: each store's intake folder(s) and a reconcile cursor per store.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 08:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bridge.models

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stores") as batch:
        batch.add_column(
            sa.Column("intake_folder", sa.String(length=200), server_default="New", nullable=False)
        )
    op.create_table(
        "reconcile_cursors",
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("checked_through", bridge.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("orderdesk_timezone", sa.String(length=64), nullable=False),
        sa.Column("last_run_at", bridge.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_listed", sa.Integer(), nullable=False),
        sa.Column("last_recovered", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_reconcile_cursors_store_id_stores"),
        ),
        sa.PrimaryKeyConstraint("store_id", name=op.f("pk_reconcile_cursors")),
    )


def downgrade() -> None:
    op.drop_table("reconcile_cursors")
    with op.batch_alter_table("stores") as batch:
        batch.drop_column("intake_folder")
