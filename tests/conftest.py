"""Shared fixtures: real Redis, a real database (SQLite, or PostgreSQL when
TEST_DATABASE_URL names one), the real app, a virtual clock."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from adapters.memory import InMemoryCRM
from adapters.port import CRMAdapter
from connector import runtime as runtime_module
from connector.app import create_app
from connector.clock import VirtualClock
from connector.db import Database
from connector.migrate import upgrade
from connector.models import Base
from connector.runtime import Runtime
from connector.services.accounts import AccountView, connect_account
from connector.settings import Settings, load_settings
from connector.workspaces import deploy_default
from tests.support.paths import ROOT

pytest_plugins = [
    "tests.support.redis",
    "tests.support.smtp",
    "tests.support.receiver",
    "tests.support.postgres",
]

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


MakeRuntime = Callable[..., Runtime]


@pytest.fixture
def make_runtime(
    settings: Settings,
    db: Database,
    redis_conn: redis.Redis,
    clock: VirtualClock,
) -> Iterator[MakeRuntime]:
    """Runtimes on the test's database, Redis and clock, with settings overridden by
    keyword (`make_runtime(mail_url=...)`); the newest one is the process's current."""
    made: list[Runtime] = []

    def make(*, crm: dict[str, CRMAdapter] | None = None, **overrides: Any) -> Runtime:
        # CRM accounts write to an in-memory CRM unless `crm={}`: then each account
        # gets its real adapter (point HUBSPOT_API_BASE at an emulator).
        runtime = Runtime(
            settings=settings.model_copy(update=overrides) if overrides else settings,
            db=db,
            redis=redis_conn,
            clock=clock,
            crm_adapters={"hubspot": InMemoryCRM(), "salesforce": InMemoryCRM()}
            if crm is None else crm,
        )
        made.append(runtime)
        runtime_module.install(runtime)
        return runtime

    yield make
    runtime_module.install(None)
    for runtime in made:
        if "transport" in runtime.__dict__:
            runtime.transport.close()


@pytest.fixture
def rt(make_runtime: MakeRuntime) -> Runtime:
    return make_runtime()


@pytest.fixture
def app(rt: Runtime) -> Flask:
    return create_app(rt)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


MakeAccount = Callable[..., AccountView]


@pytest.fixture
def make_account(rt: Runtime) -> MakeAccount:
    """Connect a HubSpot portal with the repo's own workspace deployed, as
    `connector accounts connect` does (`deploy=False`: none)."""

    def make(portal_id: str = "1000001", *, name: str = "Test portal", deploy: bool = True
             ) -> AccountView:
        with rt.db.session() as session:
            view, _ = connect_account(
                session,
                rt.vault,
                provider="hubspot",
                external_id=portal_id,
                access_token="pat-test-token",
                name=name,
                now=rt.clock.now(),
            )
        if deploy:
            deploy_default(rt.db, rt.settings, view.id, rt.clock.now())
        return view

    return make


@pytest.fixture
def account(make_account: MakeAccount) -> AccountView:
    return make_account()
