"""history: refresh-token expiry, one login for many sources (Reconnect all, page offers)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("refresh_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("refresh_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("connect_attempts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("restore_all", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("with_pages", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "page_offers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("network", sa.String(length=32), nullable=False),
        sa.Column("login_name", sa.String(length=255), nullable=False),
        sa.Column("pages", sa.JSON(), nullable=False),
        sa.Column("tokens", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("page_offers", schema=None) as batch_op:
        batch_op.create_index("ix_page_offers_expires_at", ["expires_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_page_offers_workspace_id"), ["workspace_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("page_offers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_page_offers_workspace_id"))
        batch_op.drop_index("ix_page_offers_expires_at")
    op.drop_table("page_offers")
    with op.batch_alter_table("connect_attempts", schema=None) as batch_op:
        batch_op.drop_column("with_pages")
        batch_op.drop_column("restore_all")
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_column("refresh_expires_at")
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("refresh_expires_at")
