"""oncall: quiet on blips, claims, bounded snoozes and escalation

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("renewal_warn_after_minutes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("claim_remind_hours", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("max_snooze_days", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("escalate_after_hours", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("escalation_target", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("escalation_group", sa.String(length=32), nullable=True))
    with op.batch_alter_table("notice_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("recovered", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("remind_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["notice_items.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.create_index("ix_claims_remind_at", ["remind_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_claims_source_id"), ["source_id"], unique=False)
    op.create_table(
        "snoozes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("choice", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["notice_items.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("snoozes", schema=None) as batch_op:
        batch_op.create_index("ix_snoozes_until", ["until"], unique=False)
        batch_op.create_index(batch_op.f("ix_snoozes_source_id"), ["source_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("snoozes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_snoozes_source_id"))
        batch_op.drop_index("ix_snoozes_until")
    op.drop_table("snoozes")
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claims_source_id"))
        batch_op.drop_index("ix_claims_remind_at")
    op.drop_table("claims")
    with op.batch_alter_table("notice_items", schema=None) as batch_op:
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("recovered")
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.drop_column("escalation_group")
        batch_op.drop_column("escalation_target")
        batch_op.drop_column("escalate_after_hours")
        batch_op.drop_column("max_snooze_days")
        batch_op.drop_column("claim_remind_hours")
        batch_op.drop_column("renewal_warn_after_minutes")
