"""Idempotency keys of messages and feedback (issue 12): a retry finds its stored answer.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "requestkey" in sa.inspect(op.get_bind()).get_table_names():
        return  # made by create_all before migrations existed (adopted at 0001): already here
    op.create_table(
        "requestkey",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(), sa.ForeignKey("conversation.id"), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("turn_id", sa.Integer(), sa.ForeignKey("turn.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("conversation_id", "key", name="uq_requestkey_conversation_key"),
    )
    op.create_index("ix_requestkey_conversation_id", "requestkey", ["conversation_id"])


def downgrade() -> None:
    op.drop_index("ix_requestkey_conversation_id", table_name="requestkey")
    op.drop_table("requestkey")
