"""The first schema: users, conversations, turns, tool calls and feedback.

Databases made before migrations existed (``create_all``) hold exactly these tables; the first
upgrade stamps them at this revision instead of creating anything.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user",
        sa.Column("age", sa.Integer(), nullable=True),
        sa.Column("gender", sa.String(length=40), nullable=True),
        sa.Column("occupation", sa.String(length=80), nullable=True),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "conversation",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), sa.ForeignKey("user.id"), nullable=False),
        sa.Column("owner_key", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_conversation_user_id", "conversation", ["user_id"])
    op.create_index("ix_conversation_owner_key", "conversation", ["owner_key"])
    op.create_table(
        "turn",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(), sa.ForeignKey("conversation.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("utterance", sa.String(), nullable=False),
        sa.Column("parsed", sa.String(), nullable=False),
        sa.Column("reply", sa.String(), nullable=False),
        sa.Column("parser", sa.String(), nullable=False),
        sa.Column("planner", sa.String(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("conversation_id", "position", name="uq_turn_conversation_position"),
    )
    op.create_index("ix_turn_conversation_id", "turn", ["conversation_id"])
    op.create_table(
        "toolcall",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("turn_id", sa.Integer(), sa.ForeignKey("turn.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("tool", sa.String(), nullable=False),
        sa.Column("args", sa.String(), nullable=False),
        sa.Column("result", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_toolcall_turn_id", "toolcall", ["turn_id"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(), sa.ForeignKey("conversation.id"), nullable=False),
        sa.Column("user_id", sa.String(), sa.ForeignKey("user.id"), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_feedback_conversation_id", "feedback", ["conversation_id"])
    op.create_index("ix_feedback_user_id", "feedback", ["user_id"])


def downgrade() -> None:
    for index, table in (("ix_feedback_user_id", "feedback"), ("ix_feedback_conversation_id", "feedback")):
        op.drop_index(index, table_name=table)
    op.drop_table("feedback")
    op.drop_index("ix_toolcall_turn_id", table_name="toolcall")
    op.drop_table("toolcall")
    op.drop_index("ix_turn_conversation_id", table_name="turn")
    op.drop_table("turn")
    op.drop_index("ix_conversation_owner_key", table_name="conversation")
    op.drop_index("ix_conversation_user_id", table_name="conversation")
    op.drop_table("conversation")
    op.drop_table("user")
