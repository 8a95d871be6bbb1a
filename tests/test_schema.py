"""The database schema comes from migrations, on SQLite and PostgreSQL alike; several processes
may start (and migrate) at once; a database made before migrations is adopted, not rebuilt."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlmodel import Session, SQLModel

from marquee import db, schema
from marquee.errors import ConfigError
from marquee.settings import Settings


def test_a_new_database_gets_exactly_the_tables_the_code_uses(database_url):
    engine = db.make_engine(database_url)
    assert schema.current_revision(engine) == schema.head_revision()
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []
    with Session(engine) as session:  # and it works: a user and a conversation, read back
        conversation_id = db.start_conversation(session).id
    with Session(engine) as session:
        conversation = db.get_conversation(session, conversation_id)
        assert conversation.created_at.tzinfo is not None or engine.dialect.name == "sqlite"
    engine.dispose()


def test_several_processes_starting_at_once_migrate_once(database_url):
    command = [sys.executable, "-m", "marquee", "db", "upgrade", "--database-url", database_url]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [run.communicate(timeout=180) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0, 0], [err[-800:] for _, err in outputs]
    assert all(f"database at revision {schema.head_revision()}" in out for out, _ in outputs)
    engine = db.make_engine(database_url, migrate=False)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    engine.dispose()


def test_a_database_made_before_migrations_keeps_its_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = create_engine(url)
    SQLModel.metadata.create_all(old)  # what every start did before migrations
    with Session(old) as session:
        conversation_id = db.start_conversation(session).id
    old.dispose()

    engine = db.make_engine(url)
    assert schema.current_revision(engine) == schema.head_revision()
    with Session(engine) as session:
        assert db.get_conversation(session, conversation_id).id == conversation_id
    engine.dispose()


def test_without_auto_upgrade_an_old_schema_is_refused_with_the_command_to_run(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    with pytest.raises(ConfigError, match="marquee db upgrade"):
        db.make_engine(url, migrate=False)
    assert "alembic_version" not in inspect(create_engine(url)).get_table_names()


def test_an_unreachable_database_names_the_setting():
    with pytest.raises(ConfigError, match="MARQUEE_DATABASE_URL"):
        db.make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")


def test_several_workers_refuse_sqlite_and_the_embedded_chroma(tmp_path):
    with pytest.raises(ValueError) as refused:
        Settings(workspace=tmp_path, workers=2)
    assert "MARQUEE_DATABASE_URL" in str(refused.value) and "MARQUEE_CHROMA_HOST" in str(refused.value)
    with pytest.raises(ValueError, match="MARQUEE_CHROMA_HOST"):
        Settings(workspace=tmp_path, workers=2, database_url="postgresql+psycopg://u@db/marquee")
    shared = Settings(workspace=tmp_path, workers=2, database_url="postgresql+psycopg://u@db/marquee",
                      chroma_host="chroma.internal")
    assert shared.shared_services_problem() is None


def test_serve_with_several_workers_on_sqlite_stops_with_the_settings_to_set(tmp_path):
    result = subprocess.run([sys.executable, "-m", "marquee", "serve", "--workers", "2", "--workspace", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "MARQUEE_DATABASE_URL" in result.stderr and "MARQUEE_CHROMA_HOST" in result.stderr
