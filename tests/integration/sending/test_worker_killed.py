"""A real worker process SIGKILLed while the SMTP server holds its message: the message is
never sent twice (DESIGN §5.3), it is marked uncertain, visibly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient

from connector.clock import VirtualClock
from connector.local.inprocess import BurstWorker
from connector.models import Message
from connector.runtime import Runtime
from connector.scheduler import tick
from connector.services.accounts import AccountView
from connector.services.sending import deliver
from tests.support.http import post
from tests.support.jobs import work
from tests.support.processes import worker_environment
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.slow


def status(rt: Runtime) -> str:
    """The welcome email's ledger status."""
    with rt.db.session() as session:
        return session.query(Message).filter_by(template="welcome").one().status


def test_worker_killed_during_the_smtp_transaction_never_resends(
    rt: Runtime,
    client: FlaskClient,
    account: AccountView,
    smtp_server: SmtpServer,
    redis_url: str,
    clock: VirtualClock,
) -> None:
    smtp_server.sink.delay = 30  # the server sits on DATA: the worker is mid-transport
    post(client, account, {"contact": {"email": "k@example.com"}, "event": "signed_up"})
    BurstWorker([rt.queues["events"]], connection=rt.redis).work(burst=True)
    assert status(rt) == "pending" and rt.queues["send"].count == 1
    env = worker_environment(rt.settings, redis_url, MAIL_URL=smtp_server.url)
    worker = subprocess.Popen(
        [sys.executable, "-m", "connector", "worker", "send", "--burst", "--no-ticker"], env=env
    )
    try:
        deadline = time.monotonic() + 20
        while status(rt) != "sending":
            assert time.monotonic() < deadline, "the worker never started sending"
            assert worker.poll() is None, "the worker exited early"
            time.sleep(0.05)
        time.sleep(0.3)  # inside the SMTP transaction now
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    smtp_server.sink.delay = 0
    # RQ may hand the abandoned job back; whoever retries finds `sending` and stops.
    work(rt)
    with rt.db.session() as session:
        message_id = session.query(Message.id).filter_by(template="welcome").scalar()
    assert deliver(rt, message_id) == "skipped"
    clock.set(datetime.now(UTC) + timedelta(minutes=11))  # the worker used the real clock
    tick(rt, clock.now())
    work(rt)
    assert status(rt) == "uncertain"
    # The first attempt is still held by the server (it may yet count as delivered: that
    # is why the row is uncertain); what matters is that no retry sent it again.
    assert [
        m
        for m in smtp_server.messages
        if m["To"] == "k@example.com" and "welcome" in (m["Subject"] or "").lower()
    ] == []
