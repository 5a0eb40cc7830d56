"""Outbound webhook calls with real workers: a claim keeps two workers from POSTing the
same call, and no transaction is open while the receiver takes its time (on SQLite one
would hold up every writer, events from the web included)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from connector.local.inprocess import BurstWorker
from connector.models import WebhookCall
from connector.runtime import Runtime
from connector.services.accounts import AccountView
from tests.support.http import post
from tests.support.processes import wait_until, worker_process
from tests.support.receiver import Receiver
from tests.support.workspaces import use_flows

pytestmark = pytest.mark.slow

HOLD = 1.5  # seconds the receiver takes to answer


def test_two_workers_post_a_call_once_and_hold_up_no_writer(
    rt: Runtime, client: FlaskClient, account: AccountView, tmp_path: Path,
    receiver: str, redis_url: str,
) -> None:
    Receiver.hold = HOLD
    use_flows(rt, account.id, tmp_path, hook=f"""
name: Hook
trigger: {{type: event, event: go}}
steps: [{{id: call, webhook: {{url: "{receiver}"}}}}]
""")
    post(client, account, {"contact": {"email": "w@example.com"}, "event": "go"})
    BurstWorker([rt.queues["events"]], connection=rt.redis).work(burst=True)
    with rt.db.session() as session:
        call_id = session.query(WebhookCall.id).scalar()
    rt.work.call_webhook(call_id)  # a second job for the same call, as a sweep would add
    assert rt.queues["crm"].count == 2
    with (worker_process(rt.settings, redis_url, "crm", "--no-ticker"),
          worker_process(rt.settings, redis_url, "crm", "--no-ticker")):
        wait_until(lambda: bool(Receiver.received), timeout=15, what="the webhook POSTed")
        started = time.monotonic()
        answered = post(client, account, {"contact": {"email": "x@example.com"},
                                          "event": "other"})
        took = time.monotonic() - started
        assert answered.status_code == 202
        assert took < HOLD / 2, f"an event waited {took:.2f} s for the webhook's transaction"

        def done() -> bool:
            with rt.db.session() as session:
                return session.get_one(WebhookCall, call_id).status == "done"

        wait_until(done, timeout=15, what="the call recorded done")
        time.sleep(HOLD)  # room for a second POST, were one coming
    assert len(Receiver.received) == 1
    with rt.db.session() as session:
        assert session.get_one(WebhookCall, call_id).attempts == 1
