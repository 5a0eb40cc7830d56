"""The SMTP server accepted the email, then the database connection dropped while the
outcome was being recorded: the outcome is recorded anyway (a retry of its own), as
`sent` with its CRM write-back, and the email is not sent again."""

from __future__ import annotations

import threading

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from connector.local.inprocess import BurstWorker
from connector.models import CrmWriteback, Message
from connector.runtime import Runtime
from connector.services.accounts import AccountView
from connector.services.sending import deliver
from tests.conftest import MakeRuntime
from tests.support.http import post
from tests.support.postgres import needs_postgres, terminate_lock_waiters
from tests.support.processes import wait_until
from tests.support.smtp import SmtpServer

pytestmark = [pytest.mark.slow, needs_postgres]





def test_an_accepted_email_is_recorded_sent_though_the_connection_dropped(
    rt: Runtime, make_runtime: MakeRuntime, client: FlaskClient, account: AccountView,
    smtp_server: SmtpServer, other: Session,
) -> None:
    post(client, account, {"contact": {"email": "o@example.com"}, "event": "signed_up"})
    BurstWorker([rt.queues["events"]], connection=rt.redis).work(burst=True)
    sender = make_runtime(mail_url=smtp_server.url)
    with rt.db.session() as session:
        message_id = session.scalars(select(Message.id)).one()
    smtp_server.sink.delay = 1.0  # time to take the row lock while the server holds DATA
    outcome: list[str] = []
    delivery = threading.Thread(target=lambda: outcome.append(deliver(sender, message_id)))
    delivery.start()

    def sending() -> bool:
        with rt.db.session() as session:
            return session.get_one(Message, message_id).status == "sending"

    wait_until(sending, timeout=10, what="the message claimed for sending")
    other.execute(text("SELECT id FROM messages WHERE id = :id FOR UPDATE"), {"id": message_id})
    terminate_lock_waiters(rt.db, what="the outcome's UPDATE waiting on the row")
    other.rollback()  # the row is free again: the retry goes through
    delivery.join(timeout=20)

    assert outcome == ["sent"]
    with rt.db.session() as session:
        message = session.get_one(Message, message_id)
        assert (message.status, message.error) == ("sent", None)
        kinds = [w.kind for w in session.scalars(select(CrmWriteback))]
    assert kinds == ["email_sent"]
    assert [m["To"] for m in smtp_server.messages] == ["o@example.com"]
