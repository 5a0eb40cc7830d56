"""PostgreSQL connections terminated in the middle of a unit of work (a failover, an idle
connection killed, `pg_terminate_backend`): the run that lost its connection releases what
it holds, nothing waits for a five-minute lease, nothing is sent twice.

To hit the middle of a transaction every time, another connection holds a lock the run
needs; once the run waits on it, its backend is terminated."""

from __future__ import annotations

import secrets
import threading
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from connector.clock import VirtualClock
from connector.models import Enrollment, Message
from connector.runtime import Runtime
from connector.scheduler import tick
from connector.services.accounts import AccountView
from connector.services.leases import RETRY_FAILED
from tests.support.http import post
from tests.support.jobs import work
from tests.support.postgres import needs_postgres, terminate_lock_waiters

pytestmark = [pytest.mark.slow, needs_postgres]




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
    terminate_lock_waiters(rt.db, what="a run waiting on a lock")
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
