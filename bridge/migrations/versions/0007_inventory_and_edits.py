"""Inventory sync per store (off by default) with the levels last sent; edits after submission.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 13:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bridge.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "stores",
        sa.Column("inventory_sync", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column("stores", sa.Column("inventory_interval_seconds", sa.Integer(), nullable=True))
    op.add_column("orders", sa.Column("edit_handled_version", sa.String(length=32), nullable=True))
    op.add_column(
        "orders",
        sa.Column(
            "edit_needs_attention", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
    )
    # Changes recorded before this revision were flagged and left to a person: already handled,
    # so the sweeper does not send them to a warehouse now.
    op.execute(
        "UPDATE orders SET edit_handled_version = orderdesk_updated_at "
        "WHERE changed_after_submission"
    )
    op.create_table(
        "inventory_levels",
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("sent_at", bridge.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_inventory_levels_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("store_id", "sku", name=op.f("pk_inventory_levels")),
    )


def downgrade() -> None:
    op.drop_table("inventory_levels")
    op.drop_column("orders", "edit_needs_attention")
    op.drop_column("orders", "edit_handled_version")
    op.drop_column("stores", "inventory_interval_seconds")
    op.drop_column("stores", "inventory_sync")
