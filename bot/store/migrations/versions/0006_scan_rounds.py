"""scan rounds: sources.scan_round, and indexes for the scan (health checks, status)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 02:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scan_round", sa.String(length=40), nullable=True))
        batch_op.create_index(
            "ix_sources_network_checked_at", ["network", "checked_at"], unique=False
        )
        batch_op.create_index("ix_sources_status", ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_index("ix_sources_status")
        batch_op.drop_index("ix_sources_network_checked_at")
        batch_op.drop_column("scan_round")
