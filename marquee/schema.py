"""The database schema, managed by migrations (Alembic, ``marquee/migrations``).

``upgrade(engine)`` brings a database to the newest revision. Several processes may start at
once (uvicorn workers, replicas): on PostgreSQL they queue on an advisory lock, on a SQLite
file on a file lock beside it, so one migrates and the others find the schema current. A
database made before migrations existed (by ``create_all``) is stamped at the first revision.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from marquee.errors import ConfigError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"  # the schema create_all used to make
ADVISORY_LOCK_KEY = 7_402_193_614  # any fixed bigint: "Marquee migrates" on this PostgreSQL server


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (``None``: never migrated)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> str:
    """Migrate the database to the newest revision, one process at a time; returns that revision."""
    with _exclusive(engine) as connection:
        config = alembic_config(connection)
        tables = set(inspect(connection).get_table_names())
        if "alembic_version" not in tables and {"conversation", "turn"} <= tables:
            log.info("stamping a database made before migrations at revision %s", BASELINE)
            command.stamp(config, BASELINE)
            connection.commit()
        before = MigrationContext.configure(connection).get_current_revision()
        command.upgrade(config, "head")
        connection.commit()
        after = MigrationContext.configure(connection).get_current_revision()
    if before != after:
        log.info("database migrated from %s to %s", before or "nothing", after)
    return after


def require_current(engine: Engine) -> None:
    """Raise ``ConfigError`` when the database is not at the newest revision."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise ConfigError(f"the database schema is at revision {current or 'none'}, the code needs {head}: "
                          "run `marquee db upgrade` (or set MARQUEE_DATABASE_AUTO_UPGRADE=true)")


@contextlib.contextmanager
def _exclusive(engine: Engine) -> Iterator[Connection]:
    """A connection held by this process alone among those migrating this database."""
    dialect = engine.dialect.name
    with engine.connect() as connection:
        if dialect == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            connection.commit()
            try:
                yield connection
            finally:
                connection.rollback()
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
                connection.commit()
            return
        database = engine.url.database if dialect == "sqlite" else None
        if not database or database == ":memory:" or database.startswith("file:"):
            yield connection  # in-memory SQLite (one process) or a server with no lock known here
            return
        with open(Path(database).with_name(Path(database).name + ".migrate.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield connection
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
