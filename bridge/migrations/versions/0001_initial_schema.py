"""Initial schema: stores, orders, shipments, order events, webhook receipts, cursors, leases.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-26 19:08:49.598902
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import bridge.models

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("expires_at", bridge.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    op.create_table(
        "stores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("orderdesk_store_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("api_key_encrypted", sa.Text(), nullable=False),
        sa.Column("backend", sa.String(length=64), nullable=False),
        sa.Column(
            "backend_config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("backend_secrets_encrypted", sa.Text(), nullable=True),
        sa.Column("in_process_folder", sa.String(length=100), nullable=False),
        sa.Column("error_folder", sa.String(length=100), nullable=True),
        sa.Column("cancel_folder", sa.String(length=100), nullable=False),
        sa.Column(
            "orderdesk_folders",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("poll_interval_seconds", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", bridge.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bridge.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stores")),
        sa.UniqueConstraint("orderdesk_store_id", name=op.f("uq_stores_orderdesk_store_id")),
    )
    op.create_table(
        "backend_cursors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("backend", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("last_polled_at", bridge.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_poll_at", bridge.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", bridge.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_backend_cursors_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backend_cursors")),
        sa.UniqueConstraint("store_id", "backend", name="uq_backend_cursors_store"),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("orderdesk_order_id", sa.String(length=32), nullable=False),
        sa.Column("order_number", sa.String(length=64), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("orderdesk_updated_at", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", bridge.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("enqueued_at", bridge.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("warehouse_ref", sa.String(length=128), nullable=True),
        sa.Column("warehouse_status", sa.String(length=32), nullable=True),
        sa.Column("changed_after_submission", sa.Boolean(), nullable=False),
        sa.Column("submitted_at", bridge.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("in_process_at", bridge.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("shipped_at", bridge.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", bridge.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bridge.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_orders_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_orders_idempotency_key")),
        sa.UniqueConstraint("store_id", "orderdesk_order_id", name="uq_orders_store_od_order"),
    )
    op.create_index(
        "ix_orders_state_next_attempt", "orders", ["state", "next_attempt_at"], unique=False
    )
    op.create_index(op.f("ix_orders_store_id"), "orders", ["store_id"], unique=False)
    op.create_table(
        "webhook_receipts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("received_at", bridge.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=True),
        sa.Column("claimed_store_id", sa.String(length=64), nullable=False),
        sa.Column("orderdesk_order_id", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("body_bytes", sa.Integer(), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_webhook_receipts_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_receipts")),
    )
    op.create_index(
        op.f("ix_webhook_receipts_received_at"), "webhook_receipts", ["received_at"], unique=False
    )
    op.create_index(
        op.f("ix_webhook_receipts_store_id"), "webhook_receipts", ["store_id"], unique=False
    )
    op.create_table(
        "order_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", bridge.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=32), nullable=True),
        sa.Column("to_state", sa.String(length=32), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_events_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
    )
    op.create_index(op.f("ix_order_events_order_id"), "order_events", ["order_id"], unique=False)
    op.create_table(
        "shipments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("package_id", sa.String(length=128), nullable=False),
        sa.Column("remote_shipment_id", sa.String(length=128), nullable=False),
        sa.Column("tracking_number", sa.String(length=128), nullable=False),
        sa.Column("carrier", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=128), nullable=False),
        sa.Column("tracking_url", sa.Text(), nullable=False),
        sa.Column("weight_oz", sa.Float(), nullable=True),
        sa.Column(
            "lines",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("shipped_at", bridge.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("voided", sa.Boolean(), nullable=False),
        sa.Column("orderdesk_shipment_id", sa.String(length=64), nullable=True),
        sa.Column("posted_at", bridge.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("retracted_at", bridge.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", bridge.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bridge.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_shipments_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipments")),
        sa.UniqueConstraint("order_id", "package_id", name="uq_shipments_order_package"),
    )
    op.create_index(op.f("ix_shipments_order_id"), "shipments", ["order_id"], unique=False)
    op.create_index("ix_shipments_unposted", "shipments", ["posted_at", "voided"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_shipments_unposted", table_name="shipments")
    op.drop_index(op.f("ix_shipments_order_id"), table_name="shipments")
    op.drop_table("shipments")
    op.drop_index(op.f("ix_order_events_order_id"), table_name="order_events")
    op.drop_table("order_events")
    op.drop_index(op.f("ix_webhook_receipts_store_id"), table_name="webhook_receipts")
    op.drop_index(op.f("ix_webhook_receipts_received_at"), table_name="webhook_receipts")
    op.drop_table("webhook_receipts")
    op.drop_index(op.f("ix_orders_store_id"), table_name="orders")
    op.drop_index("ix_orders_state_next_attempt", table_name="orders")
    op.drop_table("orders")
    op.drop_table("backend_cursors")
    op.drop_table("stores")
    op.drop_table("leases")
