"""Store pause: when an operator paused a store's submissions, and who.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 11:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bridge.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "stores", sa.Column("paused_at", bridge.models.UTCDateTime(timezone=True), nullable=True)
    )
    op.add_column("stores", sa.Column("paused_by", sa.String(length=100), nullable=True))


def downgrade() -> None:
    op.drop_column("stores", "paused_by")
    op.drop_column("stores", "paused_at")
