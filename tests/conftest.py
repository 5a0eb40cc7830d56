"""Shared fixtures: real Redis, a real database (SQLite, or PostgreSQL when
TEST_DATABASE_URL names one), the real app, a virtual clock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from connector import runtime as runtime_module
from connector.app import create_app
from connector.clock import VirtualClock
from connector.db import Database
from connector.local.inprocess import drain
from connector.migrate import upgrade
from connector.models import Base
from connector.runtime import Runtime
from connector.services.accounts import AccountView, connect_account
from connector.settings import Settings, load_settings

pytest_plugins = ["tests.support.redis", "tests.support.smtp", "tests.support.receiver"]

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday morning


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Whatever touches the database runs again in .ci/run's PostgreSQL pass.
    for item in items:
        if "database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.database)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The migrated schema, once per session (the migration itself is under test)."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        Database(url).engine.dispose()
        database = Database(url)
        with database.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        database.dispose()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    upgrade(url)
    yield url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    _empty(database)
    yield database
    database.dispose()


def _empty(database: Database) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with database.engine.begin() as connection:
        if database.is_sqlite:
            for name in tables:
                connection.execute(text(f"DELETE FROM {name}"))
        else:
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        APP_ENV="test",
        VAR_DIR=tmp_path / "var",
        DATABASE_URL=database_url,
        FLOWS_DIR=ROOT / "flows",
        TEMPLATES_DIR=ROOT / "templates",
        SEGMENTS_DIR=ROOT / "segments",
        MAIL_URL=f"outbox://{tmp_path / 'outbox'}",
        PUBLIC_BASE_URL="https://drip.example.com",
        SECRET_KEY="test-secret",
        ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        MAIL_FROM="Acme <hello@acme.example>",
    )


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def rt(
    settings: Settings,
    db: Database,
    redis_conn: redis.Redis,
    clock: VirtualClock,
) -> Iterator[Runtime]:
    runtime = Runtime(settings=settings, db=db, redis=redis_conn, clock=clock)
    runtime_module.install(runtime)
    yield runtime
    runtime_module.install(None)
    if "transport" in runtime.__dict__:
        runtime.transport.close()


@pytest.fixture
def app(rt: Runtime) -> Flask:
    return create_app(rt)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def account(rt: Runtime) -> AccountView:
    with rt.db.session() as session:
        view, _ = connect_account(
            session,
            rt.vault,
            provider="hubspot",
            external_id="1000001",
            access_token="pat-test-token",
            refresh_token=None,
            instance_url=None,
            name="Test portal",
            now=rt.clock.now(),
        )
    return view


def work(rt: Runtime) -> None:
    """Run every queued job to completion in this process (an RQ burst worker)."""
    drain(rt.queues)
