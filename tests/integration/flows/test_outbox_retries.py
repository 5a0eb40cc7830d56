"""Outbox rows (webhook calls, CRM writes) retry with backoff and fail visibly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from connector.clock import VirtualClock
from connector.models import CrmWriteback, WebhookCall
from connector.runtime import Runtime
from connector.services.accounts import AccountView
from connector.services.outbound import BACKOFF, call_webhook
from tests.support.http import post
from tests.support.jobs import work
from tests.support.receiver import Receiver
from tests.support.workspaces import use_flows


def hook_flow(rt: Runtime, account: AccountView, tmp_path: Path, url: str) -> None:
    use_flows(rt, account.id, tmp_path, hook=f"""
name: Hook
trigger: {{type: event, event: go}}
steps: [{{id: call, webhook: {{url: "{url}"}}}}]
""")


def the_call(rt: Runtime) -> WebhookCall:
    with rt.db.session() as session:
        return session.query(WebhookCall).one()


def test_a_5xx_is_retried_with_backoff_then_delivered(
    rt: Runtime, client: FlaskClient, account: AccountView, tmp_path: Path, receiver: str,
    clock: VirtualClock,
) -> None:
    Receiver.status = 503
    hook_flow(rt, account, tmp_path, receiver)
    post(client, account, {"contact": {"email": "w@example.com"}, "event": "go"})
    work(rt)
    call = the_call(rt)
    assert (call.status, call.attempts, call.last_error) == ("pending", 1, "HTTP 503")
    assert call.next_attempt_at == clock.now() + timedelta(seconds=BACKOFF[0])
    Receiver.status = 200
    assert call_webhook(rt, call.id) == "skipped"  # not before its backoff is over
    clock.advance(timedelta(seconds=BACKOFF[0]))
    assert call_webhook(rt, call.id) == "done"
    assert (the_call(rt).status, the_call(rt).attempts, len(Receiver.received)) == ("done", 2, 2)


def test_a_4xx_fails_for_good_and_stays_visible(
    rt: Runtime, client: FlaskClient, account: AccountView, tmp_path: Path, receiver: str
) -> None:
    Receiver.status = 410
    hook_flow(rt, account, tmp_path, receiver)
    post(client, account, {"contact": {"email": "w@example.com"}, "event": "go"})
    work(rt)
    assert (the_call(rt).status, the_call(rt).last_error) == ("failed", "HTTP 410")
    assert call_webhook(rt, the_call(rt).id) == "skipped"  # never re-sent


@pytest.mark.parametrize(("permanent", "attempts", "status"),
                         [(False, 1, "pending"), (True, 1, "failed"), (False, 8, "failed")])
def test_outbox_row_backoff_rules(permanent: bool, attempts: int, status: str) -> None:
    now = datetime(2026, 1, 5, tzinfo=UTC)
    # The claim counted the attempt; failed() only decides what comes next.
    row = CrmWriteback(attempts=attempts, next_attempt_at=now, status="pending")
    row.failed(now, "boom", permanent=permanent, backoff=(30, 60, 90, 120, 150, 180, 210))
    assert (row.status, row.attempts, row.last_error) == (status, attempts, "boom")
    if status == "pending":
        assert row.next_attempt_at == now + timedelta(seconds=30)
