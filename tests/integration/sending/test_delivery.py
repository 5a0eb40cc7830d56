"""Sending through a real SMTP server: at most once across crashes, lost jobs and retries;
4xx retried, 5xx recorded; a hostile template fails only its own message."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from connector.clock import VirtualClock
from connector.local.inprocess import BurstWorker
from connector.models import CrmWriteback, Enrollment, EnrollmentJournal, Message, Suppression
from connector.runtime import Runtime
from connector.scheduler import tick
from connector.services.accounts import AccountView
from connector.services.sending import BACKOFF, deliver
from tests.conftest import MakeRuntime
from tests.support.http import post
from tests.support.jobs import work
from tests.support.paths import ROOT
from tests.support.smtp import SmtpServer
from tests.support.workspaces import deploy

SIGNUP = {
    "contact": {"email": "grace@example.com", "properties": {"firstname": "Grace"}},
    "event": "signed_up",
}


@pytest.fixture
def smtp_rt(rt: Runtime, make_runtime: MakeRuntime, smtp_server: SmtpServer) -> Runtime:
    # After `rt` (which the web app uses): the jobs run on this one.
    return make_runtime(mail_url=smtp_server.url)


def ledger(rt: Runtime) -> list[tuple[str, str]]:
    with rt.db.session() as session:
        return [(m.template, m.status) for m in session.query(Message).order_by(Message.id)]


def run_events_only(rt: Runtime) -> None:
    BurstWorker([rt.queues["events"]], connection=rt.redis).work(burst=True,
                                                                 logging_level="ERROR")


def test_event_becomes_an_email_accepted_by_the_smtp_server(
    smtp_rt: Runtime, client: FlaskClient, account: AccountView, smtp_server: SmtpServer
) -> None:
    post(client, account, SIGNUP)
    work(smtp_rt)
    (message,) = smtp_server.messages
    assert message["To"] == "grace@example.com"
    assert message.get_content_type() == "multipart/alternative"
    assert ledger(smtp_rt) == [("welcome", "sent")]
    with smtp_rt.db.session() as session:
        assert session.query(CrmWriteback).filter_by(kind="email_sent").count() == 1


def test_lost_send_job_is_recovered_and_sent_exactly_once(
    smtp_rt: Runtime, client: FlaskClient, account: AccountView, smtp_server: SmtpServer, clock
) -> None:
    """The worker dies between the ledger write and the send (or Redis loses the job)."""
    post(client, account, SIGNUP)
    run_events_only(smtp_rt)
    assert ledger(smtp_rt) == [("welcome", "pending")]
    smtp_rt.redis.flushdb()  # the queued send job is gone
    clock.advance(timedelta(seconds=61))
    tick(smtp_rt, clock.now())  # the database is the truth: the job is re-enqueued
    work(smtp_rt)
    # A duplicate job (a retry racing the recovery) sends nothing more.
    (message_id,) = _ids(smtp_rt)
    assert deliver(smtp_rt, message_id) == "skipped"
    assert len(smtp_server.messages) == 1
    assert ledger(smtp_rt) == [("welcome", "sent")]


def test_message_whose_worker_died_mid_transport_is_never_resent(
    smtp_rt: Runtime, client: FlaskClient, account: AccountView, smtp_server: SmtpServer, clock
) -> None:
    post(client, account, SIGNUP)
    run_events_only(smtp_rt)
    (message_id,) = _ids(smtp_rt)
    # Simulate the crash window: the row was claimed (`sending`) and the process vanished.
    with smtp_rt.db.session() as session:
        row = session.get_one(Message, message_id)
        row.status, row.sending_at = "sending", clock.now()
    assert deliver(smtp_rt, message_id) == "skipped"
    clock.advance(timedelta(minutes=11))
    tick(smtp_rt, clock.now())
    work(smtp_rt)
    assert smtp_server.messages == []
    assert ledger(smtp_rt) == [("welcome", "uncertain")]


def test_connection_lost_during_data_is_uncertain_and_never_resent(
    smtp_rt: Runtime, client: FlaskClient, account: AccountView, smtp_server: SmtpServer
) -> None:
    smtp_server.sink.hang_up = True
    post(client, account, SIGNUP)
    work(smtp_rt)
    smtp_server.sink.hang_up = False
    work(smtp_rt)
    (message_id,) = _ids(smtp_rt)
    assert deliver(smtp_rt, message_id) == "skipped"
    assert ledger(smtp_rt) == [("welcome", "uncertain")]
    assert smtp_server.messages == []


def test_4xx_backs_the_message_off_and_it_is_sent_after_the_backoff(
    smtp_rt: Runtime, client: FlaskClient, account: AccountView, smtp_server: SmtpServer,
    clock: VirtualClock,
) -> None:
    smtp_server.sink.reply = "451 4.3.0 try again later"
    post(client, account, SIGNUP)
    run_events_only(smtp_rt)
    (message_id,) = _ids(smtp_rt)
    assert deliver(smtp_rt, message_id) == "deferred"
    assert ledger(smtp_rt) == [("welcome", "pending")]
    smtp_server.sink.reply = None
    assert deliver(smtp_rt, message_id) == "skipped"  # not before its next attempt
    clock.advance(timedelta(seconds=BACKOFF[0]))
    tick(smtp_rt, clock.now())  # the sweep wakes the send job for a backoff that is over
    work(smtp_rt)
    assert ledger(smtp_rt) == [("welcome", "sent")]
    assert len(smtp_server.messages) == 1


def test_5xx_recipient_reject_is_a_hard_bounce_and_suppresses(
    smtp_rt: Runtime, client: FlaskClient, account: AccountView, smtp_server: SmtpServer,
    clock: VirtualClock,
) -> None:
    smtp_server.sink.reply = "550 5.1.1 no such user"
    post(client, account, SIGNUP)
    work(smtp_rt)
    assert ledger(smtp_rt) == [("welcome", "bounced")]
    with smtp_rt.db.session() as session:
        assert session.query(Suppression).one().reason == "hard_bounce"
        assert session.query(CrmWriteback).filter_by(kind="bounced").count() == 1
    clock.advance(timedelta(days=2, minutes=1))  # the next step: the contact leaves
    tick(smtp_rt, clock.now())
    work(smtp_rt)
    with smtp_rt.db.session() as session:
        welcome = session.query(Enrollment).filter_by(flow_key="welcome").one()
        exits = session.query(EnrollmentJournal).filter_by(action="exit").all()
    assert (welcome.state, welcome.exit_reason) == ("exited", "hard_bounce")  # not unsubscribed
    assert [e.detail for e in exits] == [{"reason": "hard_bounce"}]


def test_sandbox_escape_fails_that_message_and_the_worker_carries_on(
    rt: Runtime, client: FlaskClient, account: AccountView, tmp_path: Path
) -> None:
    templates, flows = tmp_path / "templates", tmp_path / "flows"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "evil").mkdir()
    (templates / "evil" / "subject.txt").write_text("Hello")
    (templates / "evil" / "body.mjml").write_text(
        "<mjml><mj-body><mj-section><mj-column><mj-text>"
        "{{ ''.__class__.__mro__[1].__subclasses__() }}"
        "</mj-text></mj-column></mj-section></mj-body></mjml>"
    )
    flows.mkdir()
    for name, template in (("a-evil", "evil"), ("b-fine", "welcome")):
        (flows / f"{name}.yaml").write_text(
            f"name: {name}\ntrigger: {{type: event, event: test.fired}}\n"
            f"steps:\n  - send: {template}\n"
        )
    deploy(rt, account.id, flows=flows, templates=templates)
    post(client, account, {"contact": {"email": "x@example.com"}, "event": "test.fired"})
    work(rt)
    with rt.db.session() as session:
        rows = {m.template: m for m in session.query(Message)}
    assert rows["evil"].status == "failed"
    assert "evil" in (rows["evil"].error or "")
    assert "unsafe" in (rows["evil"].error or "").lower()
    assert rows["welcome"].status == "sent"


def _ids(rt: Runtime) -> list[int]:
    with rt.db.session() as session:
        return [m.id for m in session.query(Message).order_by(Message.id)]
