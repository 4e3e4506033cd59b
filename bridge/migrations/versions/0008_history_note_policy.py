"""History note policy per store: all, problems (the default) or off.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 13:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "stores",
        sa.Column("history_notes", sa.String(length=16), server_default="problems", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("stores", "history_notes")
