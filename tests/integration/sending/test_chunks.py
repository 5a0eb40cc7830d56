"""The send job: pending messages claimed in chunks and sent over one SMTP connection; one
message's 4xx, template error or new suppression touches no other message of its chunk."""

from __future__ import annotations

import shutil
import time
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from connector.clock import VirtualClock
from connector.local.inprocess import BurstWorker
from connector.models import Message
from connector.runtime import Runtime
from connector.scheduler import tick
from connector.services.accounts import AccountView
from connector.services.sending import BACKOFF, CHUNK_SQLITE, deliver_pending
from connector.services.suppressions import suppress
from tests.conftest import MakeRuntime
from tests.support.http import post
from tests.support.jobs import work
from tests.support.paths import ROOT
from tests.support.smtp import SmtpServer
from tests.support.workspaces import deploy


@pytest.fixture
def smtp_rt(rt: Runtime, make_runtime: MakeRuntime, smtp_server: SmtpServer) -> Runtime:
    # After `rt` (which the web app uses): the jobs run on this one.
    return make_runtime(mail_url=smtp_server.url)


def sign_up(client: FlaskClient, account: AccountView, rt: Runtime, *emails: str) -> None:
    """The welcomes of new contacts, pending in the ledger (events processed only)."""
    for email in emails:
        post(client, account, {"contact": {"email": email}, "event": "signed_up"})
    BurstWorker([rt.queues["events"]], connection=rt.redis).work(burst=True,
                                                                 logging_level="ERROR")


def statuses(rt: Runtime) -> dict[str, str]:
    with rt.db.session() as session:
        return {m.to_email: m.status for m in session.query(Message).order_by(Message.id)}


def test_a_backlog_goes_out_in_chunks_over_one_smtp_connection_and_one_job(
    smtp_rt: Runtime, client: FlaskClient, account: AccountView, smtp_server: SmtpServer
) -> None:
    emails = [f"c{n}@example.com" for n in range(CHUNK_SQLITE + 5)]  # two chunks
    sign_up(client, account, smtp_rt, *emails)
    # Every welcome woke the send job; the wake-ups coalesced into one queued job.
    assert smtp_rt.queues["send"].count == 1
    work(smtp_rt)
    assert statuses(smtp_rt) == dict.fromkeys(emails, "sent")
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(emails)
    assert len(smtp_server.sink.sessions) == 1


def test_a_451_defers_that_message_only_and_it_is_retried_after_its_backoff(
    smtp_rt: Runtime, client: FlaskClient, account: AccountView, smtp_server: SmtpServer,
    clock: VirtualClock,
) -> None:
    smtp_server.sink.reply_for["b@example.com"] = "451 4.7.1 greylisted, try again later"
    sign_up(client, account, smtp_rt, "a@example.com", "b@example.com", "c@example.com")
    started = time.monotonic()
    assert deliver_pending(smtp_rt) == 3
    assert time.monotonic() - started < 2  # no sleep in the worker (was ~3 s per attempt)
    assert statuses(smtp_rt) == {"a@example.com": "sent", "b@example.com": "pending",
                                 "c@example.com": "sent"}
    with smtp_rt.db.session() as session:
        deferred = session.query(Message).filter_by(to_email="b@example.com").one()
        assert "451" in (deferred.error or "")
        assert deferred.next_attempt_at == clock.now() + timedelta(seconds=BACKOFF[0])
    # Not before its backoff, even when the send job runs again...
    assert deliver_pending(smtp_rt) == 0
    del smtp_server.sink.reply_for["b@example.com"]
    # ...and once it is over, the scheduler's sweep wakes the job for it.
    clock.advance(timedelta(seconds=BACKOFF[0]))
    tick(smtp_rt, clock.now())
    work(smtp_rt)
    assert statuses(smtp_rt)["b@example.com"] == "sent"
    assert sorted(m["To"] for m in smtp_server.messages) == [
        "a@example.com", "b@example.com", "c@example.com"]


def test_a_4xx_that_never_ends_fails_the_message_after_the_last_backoff(
    smtp_rt: Runtime, client: FlaskClient, account: AccountView, smtp_server: SmtpServer,
    clock: VirtualClock,
) -> None:
    smtp_server.sink.reply = "452 4.2.2 mailbox full"
    sign_up(client, account, smtp_rt, "full@example.com")
    for delay in (0, *BACKOFF):
        clock.advance(timedelta(seconds=delay))
        assert deliver_pending(smtp_rt) == 1
    assert statuses(smtp_rt) == {"full@example.com": "failed"}
    with smtp_rt.db.session() as session:
        error = session.query(Message).one().error or ""
    assert error.startswith(f"gave up after {len(BACKOFF) + 1} attempts") and "452" in error


def test_a_template_error_in_a_chunk_fails_only_that_message(
    rt: Runtime, smtp_rt: Runtime, client: FlaskClient, account: AccountView,
    smtp_server: SmtpServer, tmp_path: Path,
) -> None:
    templates, flows = tmp_path / "templates", tmp_path / "flows"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "broken").mkdir()
    (templates / "broken" / "subject.txt").write_text("Hello")
    (templates / "broken" / "body.mjml").write_text(
        "<mjml><mj-body><mj-section><mj-column><mj-text>{{ contact.email ** 2 }}"
        "</mj-text></mj-column></mj-section></mj-body></mjml>"
    )
    flows.mkdir()
    for name, template in (("a-fine", "welcome"), ("b-broken", "broken"), ("c-fine", "welcome")):
        (flows / f"{name}.yaml").write_text(
            f"name: {name}\ntrigger: {{type: event, event: test.fired}}\n"
            f"steps:\n  - send: {template}\n"
        )
    deploy(rt, account.id, flows=flows, templates=templates)
    for email in ("x@example.com", "y@example.com"):
        post(client, account, {"contact": {"email": email}, "event": "test.fired"})
    BurstWorker([rt.queues["events"]], connection=rt.redis).work(burst=True,
                                                                 logging_level="ERROR")
    assert deliver_pending(smtp_rt) == 6  # one chunk
    with rt.db.session() as session:
        rows = session.query(Message).order_by(Message.id).all()
    assert sorted((m.template, m.status) for m in rows) == sorted(
        [("welcome", "sent")] * 4 + [("broken", "failed")] * 2)
    assert all("broken" in (m.error or "") for m in rows if m.status == "failed")
    assert len(smtp_server.messages) == 4


def test_a_suppression_added_after_the_enqueue_is_honoured(
    smtp_rt: Runtime, client: FlaskClient, account: AccountView, smtp_server: SmtpServer,
    clock: VirtualClock,
) -> None:
    sign_up(client, account, smtp_rt, "keep@example.com", "gone@example.com")
    assert smtp_rt.queues["send"].count == 1  # the send job is queued already
    with smtp_rt.db.session() as session:
        suppress(session, account.id, "gone@example.com", "unsubscribed", clock.now())
    work(smtp_rt)
    assert statuses(smtp_rt) == {"keep@example.com": "sent", "gone@example.com": "suppressed"}
    assert [m["To"] for m in smtp_server.messages] == ["keep@example.com"]
