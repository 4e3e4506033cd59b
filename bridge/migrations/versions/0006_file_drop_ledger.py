"""File drop ledger: the order files written, the warehouse files consumed and their rows.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 13:19:14.047729
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import bridge.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "file_drop_files",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("inbox", sa.String(length=500), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column(
            "order_keys",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "problems",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "stock",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("consumed_at", bridge.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("archived_at", bridge.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_drop_files")),
        sa.UniqueConstraint("inbox", "name", "sha256", name="uq_file_drop_files_content"),
    )
    op.create_table(
        "file_drop_orders",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("outbox", sa.String(length=500), nullable=False),
        sa.Column("order_number", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column(
            "lines",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", bridge.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("written_at", bridge.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancel_requested_at", bridge.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancel_answer", sa.String(length=20), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_file_drop_orders")),
    )
    with op.batch_alter_table("file_drop_orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_file_drop_orders_number", ["outbox", "order_number"], unique=False
        )

    op.create_table(
        "file_drop_shipment_lines",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("file_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("order_key", sa.String(length=100), nullable=False),
        sa.Column("line_key", sa.String(length=100), nullable=False),
        sa.Column("sku", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("tracking_number", sa.String(length=200), nullable=False),
        sa.Column("tracking_url", sa.String(length=500), nullable=False),
        sa.Column("carrier", sa.String(length=100), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("shipped_at", bridge.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("voided", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["file_drop_files.id"],
            name=op.f("fk_file_drop_shipment_lines_file_id_file_drop_files"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_drop_shipment_lines")),
    )
    with op.batch_alter_table("file_drop_shipment_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_file_drop_shipment_lines_file_id"), ["file_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_file_drop_shipment_lines_order_key"), ["order_key"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("file_drop_shipment_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_file_drop_shipment_lines_order_key"))
        batch_op.drop_index(batch_op.f("ix_file_drop_shipment_lines_file_id"))

    op.drop_table("file_drop_shipment_lines")
    with op.batch_alter_table("file_drop_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_file_drop_orders_number")

    op.drop_table("file_drop_orders")
    op.drop_table("file_drop_files")
