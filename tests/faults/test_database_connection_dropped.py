"""PostgreSQL connections terminated in the middle of a unit of work (a failover, an idle
connection killed, `pg_terminate_backend`): the run that lost its connection releases what
it holds, nothing waits for a five-minute lease, nothing is sent twice.

To hit the middle of a transaction every time, another connection holds a lock the run
needs; once the run waits on it, its backend is terminated."""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from connector.clock import VirtualClock
from connector.db import Database
from connector.models import Enrollment, Message
from connector.runtime import Runtime
from connector.scheduler import tick
from connector.services.accounts import AccountView
from connector.services.leases import RETRY_FAILED
from tests.support.http import post
from tests.support.jobs import work
from tests.support.processes import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("TEST_DATABASE_URL"),
        reason="terminating a server's connections needs PostgreSQL (TEST_DATABASE_URL)",
    ),
]


@pytest.fixture
def other(database_url: str) -> Iterator[Session]:
    """A second client of the same database, holding locks the test chooses."""
    database = Database(database_url)
    session = database.sessions()
    yield session
    session.rollback()
    session.close()
    database.dispose()


def terminate_the_backend_waiting_on_a_lock(db: Database) -> None:
    def waiting() -> list[int]:
        with db.engine.connect() as connection:
            return list(connection.scalars(text(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() AND pid <> pg_backend_pid()")))

    wait_until(lambda: bool(waiting()), timeout=10, what="a run waiting on a lock")
    with db.engine.connect() as connection:
        for pid in waiting():
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


def test_a_run_that_lost_its_connection_releases_its_lease_and_runs_again_soon(
    rt: Runtime, client: FlaskClient, account: AccountView, clock: VirtualClock,
    other: Session,
) -> None:
    post(client, account, {"contact": {"email": "d@example.com"}, "event": "signed_up"})
    work(rt)  # the welcome went out; two days until getting-started
    with rt.db.session() as session:
        enrollment = session.query(Enrollment).filter_by(flow_key="welcome").one()
    clock.advance(timedelta(days=2, minutes=1))
    # The run will insert the getting-started ledger row: hold that very key.
    other.add(Message(account_id=account.id, contact_id=enrollment.contact_id,
                      enrollment_id=enrollment.id, step_id="getting-started",
                      template="getting-started", public_id=secrets.token_hex(16),
                      status="pending", to_email="d@example.com", created_at=clock.now()))
    other.flush()
    run = threading.Thread(target=tick, args=(rt, clock.now()))
    run.start()
    terminate_the_backend_waiting_on_a_lock(rt.db)
    run.join(timeout=20)
    assert not run.is_alive()
    other.rollback()

    with rt.db.session() as session:
        released = session.get_one(Enrollment, enrollment.id)
        assert (released.lease_owner, released.lease_until) == (None, None)
        assert released.next_run_at == clock.now() + RETRY_FAILED
    clock.advance(RETRY_FAILED + timedelta(seconds=1))
    tick(rt, clock.now())
    work(rt)
    with rt.db.session() as session:
        sent = [m.template for m in session.query(Message).order_by(Message.id)]
    assert sent == ["welcome", "getting-started"]
