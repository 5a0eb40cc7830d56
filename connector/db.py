"""Engine and session factory; built by the app factory and the worker bootstrap."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Result, create_engine, event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker
from sqlalchemy.pool import StaticPool

log = logging.getLogger(__name__)


class Database:
    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_options)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on error, always closed."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def make_engine(url: str, **options: Any) -> Engine:
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            options.setdefault("poolclass", StaticPool)
        options.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    options.setdefault("pool_pre_ping", True)
    return create_engine(url, **options)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web process read while a worker writes; foreign keys are off by default.
    # isolation_level=None hands transaction control to the "begin" hook below.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    # BEGIN IMMEDIATE takes the write lock up front: two workers claiming due rows never
    # both read-then-upgrade (which deadlocks SQLite into "database is locked").
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def after_commit(session: Session, callback: Callable[[], object]) -> None:
    """Run `callback` once the session's outermost transaction commits.

    Jobs are enqueued this way so a worker never sees a row that is not committed yet, or
    was rolled back. A savepoint released does not run callbacks (its rows are not
    committed until the transaction is); a savepoint rolled back drops the callbacks
    registered inside it, and only those. A callback that fails is logged, not raised: the
    rows are committed, and the scheduler's recovery re-enqueues lost work.
    """
    registered_in = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_AFTER_COMMIT, []).append((registered_in, callback))


_AFTER_COMMIT = "after_commit"


def _run_after_commit(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint was released: its callbacks wait for the real commit
    for _transaction, callback in session.info.pop(_AFTER_COMMIT, []):
        try:
            callback()
        except Exception:
            log.exception("an after-commit callback failed; the scheduler's sweep heals it")


def _drop_after_commit(session: Session, previous_transaction: SessionTransaction) -> None:
    """Drop what the rolled-back transaction (or savepoint) and those inside it registered."""
    callbacks = session.info.get(_AFTER_COMMIT)
    if not callbacks:
        return
    session.info[_AFTER_COMMIT] = [
        (transaction, callback)
        for transaction, callback in callbacks
        if not _within(transaction, previous_transaction)
    ]


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


event.listen(Session, "after_commit", _run_after_commit)
event.listen(Session, "after_soft_rollback", _drop_after_commit)


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched (typed: execute() returns the general Result)."""
    return cast("CursorResult[Any]", result).rowcount
