"""Injecting PostgreSQL faults: a second client holding locks, and terminating the backend
of whoever waits on one (mid-transaction, every time)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from connector.db import Database
from tests.support.processes import wait_until

needs_postgres = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"),
    reason="terminating a server's connections needs PostgreSQL (TEST_DATABASE_URL)",
)


@pytest.fixture
def other(database_url: str) -> Iterator[Session]:
    """A second client of the same database, holding locks the test chooses."""
    database = Database(database_url)
    session = database.sessions()
    yield session
    session.rollback()
    session.close()
    database.dispose()


def waiting_on_a_lock(db: Database) -> list[int]:
    with db.engine.connect() as connection:
        return list(connection.scalars(text(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database() AND pid <> pg_backend_pid()")))


def terminate_lock_waiters(db: Database, *, what: str) -> None:
    """Wait until a backend waits on a lock, then terminate every one that does."""
    wait_until(lambda: bool(waiting_on_a_lock(db)), timeout=10, what=what)
    with db.engine.connect() as connection:
        for pid in waiting_on_a_lock(db):
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
