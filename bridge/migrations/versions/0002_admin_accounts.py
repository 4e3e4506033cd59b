"""Admin accounts: named users with hashed passwords, and failed sign-ins per name and address.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 08:30:36.195691
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bridge.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admin_login_throttle",
        sa.Column("key", sa.String(length=96), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", bridge.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", bridge.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_admin_login_throttle")),
    )
    op.create_table(
        "admin_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("session_generation", sa.Integer(), nullable=False),
        sa.Column("password_changed_at", bridge.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", bridge.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", bridge.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bridge.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_users")),
        sa.UniqueConstraint("name", name=op.f("uq_admin_users_name")),
    )


def downgrade() -> None:
    op.drop_table("admin_users")
    op.drop_table("admin_login_throttle")
