"""The Alembic migrations build exactly the schema the models describe, and move data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, Table, create_engine, insert, make_url, text

from connector.db import Database
from connector.migrate import upgrade
from connector.models import Account, Base, Enrollment, FlowState, FlowVersion


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    database = Database(database_url)
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    database.dispose()
    assert diff == []


@pytest.fixture
def scratch_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (on TEST_DATABASE_URL's server when one is named)."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'scratch.sqlite3'}"
        return
    url = make_url(base)
    name = f"{url.database}_migration"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def test_0003_gives_each_account_its_flow_versions_and_operator_statuses(
    scratch_url: str,
) -> None:
    upgrade(scratch_url, "0002")
    engine = create_engine(scratch_url)
    now = datetime(2026, 11, 30, tzinfo=UTC)
    with engine.begin() as connection:
        tables = {name: Table(name, MetaData(), autoload_with=connection)
                  for name in ("accounts", "contacts", "flow_versions", "enrollments",
                               "flow_states")}
        for n in (1, 2):
            connection.execute(insert(tables["accounts"]).values(
                id=n, provider="hubspot", external_id=str(n), name="", api_key_hash=f"h{n}",
                api_key_encrypted=b"k", created_at=now))
            connection.execute(insert(tables["contacts"]).values(
                id=n, account_id=n, email=f"c{n}@example.com", properties={},
                created_at=now, updated_at=now))
        connection.execute(insert(tables["flow_versions"]).values(
            id=7, flow_key="welcome", version="v1", definition={"steps": []}, created_at=now))
        connection.execute(insert(tables["flow_versions"]).values(
            id=8, flow_key="unused", version="v1", definition={}, created_at=now))
        for n in (1, 2):
            connection.execute(insert(tables["enrollments"]).values(
                id=n, account_id=n, contact_id=n, flow_key="welcome", flow_version_id=7,
                entry_key="once", state="active", cursor=0, context={}, entered_at=now))
        connection.execute(insert(tables["flow_states"]).values(
            flow_key="welcome", status="paused", updated_at=now))
    engine.dispose()

    upgrade(scratch_url)

    database = Database(scratch_url)
    with database.session() as session:
        versions = {(v.account_id, v.flow_key): v for v in session.query(FlowVersion)}
        assert sorted(versions) == [(1, "welcome"), (2, "welcome")]  # unused: dropped
        for enrollment in session.query(Enrollment):
            version = versions[(enrollment.account_id, "welcome")]
            assert enrollment.flow_version_id == version.id
            assert version.definition == {"steps": []}
        states = {(s.account_id, s.flow_key): s.status for s in session.query(FlowState)}
        assert states == {(1, "welcome"): "paused", (2, "welcome"): "paused"}
        assert {a.workspace_version for a in session.query(Account)} == {None}
    database.dispose()
