"""Enqueue after commit: callbacks belong to the outermost transaction. A released
savepoint runs none; a rolled-back savepoint drops its own and no others; a failing
callback never undoes the commit."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from connector.db import Database, after_commit


def test_a_released_savepoint_runs_nothing_until_the_transaction_commits(db: Database) -> None:
    ran: list[str] = []
    with db.session() as session:
        session.execute(text("SELECT 1"))
        with session.begin_nested():
            after_commit(session, lambda: ran.append("inner"))
        assert ran == []  # the savepoint's rows are not committed yet
        after_commit(session, lambda: ran.append("outer"))
        assert ran == []
    assert ran == ["inner", "outer"]


def test_a_rolled_back_savepoint_drops_only_its_own_callbacks(db: Database) -> None:
    ran: list[str] = []
    with db.session() as session:
        session.execute(text("SELECT 1"))
        after_commit(session, lambda: ran.append("before"))
        with session.begin_nested():
            after_commit(session, lambda: ran.append("kept"))
        with pytest.raises(ValueError), session.begin_nested():
            after_commit(session, lambda: ran.append("dropped"))
            with session.begin_nested():
                after_commit(session, lambda: ran.append("dropped too"))
            raise ValueError("this enrollment failed")
        after_commit(session, lambda: ran.append("after"))
    assert ran == ["before", "kept", "after"]


def test_a_rolled_back_transaction_runs_nothing(db: Database) -> None:
    ran: list[str] = []
    with pytest.raises(RuntimeError), db.session() as session:
        session.execute(text("SELECT 1"))
        after_commit(session, lambda: ran.append("never"))
        raise RuntimeError
    assert ran == []
    with db.session() as session:  # and nothing leaks into the next unit of work
        session.execute(text("SELECT 1"))
    assert ran == []


def test_a_failing_callback_is_logged_and_the_others_still_run(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    def broken() -> None:
        raise ConnectionError("Redis is down")

    with db.session() as session:
        session.execute(text("SELECT 1"))
        after_commit(session, broken)
        after_commit(session, lambda: ran.append("next"))
    assert ran == ["next"]
    assert "after-commit callback failed" in caplog.text
