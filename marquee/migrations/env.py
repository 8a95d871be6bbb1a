"""Alembic's entry point: runs the migrations on the connection ``marquee.schema`` hands over."""

from __future__ import annotations

from alembic import context

from marquee import db  # noqa: F401  (the tables register on SQLModel.metadata)
from sqlmodel import SQLModel

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only marquee.schema runs these migrations
    raise RuntimeError("run Marquee's migrations with `marquee db upgrade`")
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
