"""A job enqueued inside a savepoint reaches Redis only once the whole transaction commits:
an idle real worker must never find the row missing and drop the job (the email then
waited for the 60 s recovery sweep). PostgreSQL shows the fault (the worker's claim sees
no committed row); SQLite's single writer makes the worker wait for the commit instead."""

from __future__ import annotations

import secrets
import time

import pytest

from connector.db import after_commit
from connector.models import Contact, Message
from connector.runtime import Runtime
from connector.services.accounts import AccountView
from tests.support.processes import wait_until, worker_process
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.slow


def test_a_send_queued_in_a_savepoint_waits_for_the_commit(
    rt: Runtime, account: AccountView, smtp_server: SmtpServer, redis_url: str
) -> None:
    with rt.db.session() as session:
        contact = Contact(account_id=account.id, email="s@example.com", properties={},
                          created_at=rt.clock.now(), updated_at=rt.clock.now())
        session.add(contact)
    with worker_process(rt.settings, redis_url, "send", "--no-ticker",
                        MAIL_URL=smtp_server.url) as worker:
        time.sleep(1.0)  # the worker is up and idle, blocked on the send queue
        assert worker.poll() is None
        with rt.db.session() as session:
            # As the scheduler does: a savepoint per enrollment, one commit per chunk.
            with session.begin_nested():
                message = Message(
                    account_id=account.id, contact_id=contact.id, template="welcome",
                    public_id=secrets.token_hex(16), status="pending",
                    to_email="s@example.com", created_at=rt.clock.now(),
                )
                session.add(message)
                session.flush()
                message_id = message.id
                after_commit(session, lambda: rt.work.deliver_message(message_id))
            time.sleep(0.5)  # the rest of the chunk: the job must not be out yet
            assert rt.queues["send"].count == 0 and not smtp_server.messages

        def sent() -> bool:
            with rt.db.session() as check:
                return check.get_one(Message, message_id).status == "sent"

        wait_until(sent, timeout=10, what="the welcome email sent after the commit")
    assert [m["To"] for m in smtp_server.messages] == ["s@example.com"]
