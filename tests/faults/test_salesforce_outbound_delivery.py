"""Salesforce's Outbound Messages while the connector's web is down, then answering 500:
the emulated org retries each message until it is Acked (on a short schedule here; hours
in Salesforce); once `connector serve` stores them, each Contact creation is stored once
and welcomed once, and a message Salesforce sends again after its Ack (it may) is Acked
and stores nothing."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import redis
import requests
from sqlalchemy import func, select, text

from connector.models import InboxEvent
from connector.services.crm_secrets import inbound_secret
from tests.faults.conftest import Processes, answers_ready
from tests.faults.crm_world import emails_to
from tests.faults.salesforce_world import World, salesforce_world
from tests.support.processes import wait_until
from tests.support.smtp import free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc"),
]

CONTACTS = 5
FIELDS = ["Email", "FirstName", "LastName", "HasOptedOutOfEmail", "IsEmailBounced",
          "LeadSource", "CreatedDate", "LastModifiedDate"]
SCHEDULE = (0.2, 0.5, *(1.0,) * 30)  # Salesforce's gaps grow to 2 h; a test's stay short


def _failed(world: World, outcome: int | str) -> int:
    return sum(1 for _, got, _ in list(world.emu.outbound_deliveries) if got == outcome)


def _stored(world: World) -> int:
    with world.rt.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(InboxEvent)) or 0)


def test_outbound_messages_refused_while_the_web_is_down_or_failing_are_stored_and_welcomed_once(
    processes: Processes, redis_client: redis.Redis, env: dict[str, str]
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with salesforce_world({**env, "PUBLIC_BASE_URL": base, "PORT": str(port)},
                          outbound_schedule=SCHEDULE) as world:
        account_id = world.connect(deploy=True)
        org = world.org(account_id)
        secret = inbound_secret(world.rt.settings.secret_key or "", account_id)
        target = f"{base}/webhooks/salesforce/outbound?token={secret}"
        world.emu.outbound(org, target, object="Contact", fields=FIELDS)
        emails = [f"outbound-{n}@example.com" for n in range(CONTACTS)]
        for n, email in enumerate(emails):
            org.create("Contact", {"LastName": f"N{n}", "FirstName": "Out", "Email": email})

        # Down: nothing listens on the port.
        wait_until(lambda: _failed(world, "ConnectionError") >= 3, timeout=10,
                   what=f"deliveries refused; {world.emu.outbound_deliveries}")
        # Then up, but its database refuses the inbox's insert: 500.
        with world.rt.db.engine.begin() as connection:
            connection.execute(text("ALTER TABLE inbox_events RENAME TO inbox_events_away"))
        serve = processes.connector("serve", env=world.env, name="serve")
        wait_until(lambda: serve.running() and answers_ready(port), timeout=30,
                   what=f"connector serve ready\n{serve.output()}")
        wait_until(lambda: _failed(world, 500) >= 1, timeout=20,
                   what=f"a delivery answered 500; {world.emu.outbound_deliveries}")
        with world.rt.db.engine.begin() as connection:
            connection.execute(text("ALTER TABLE inbox_events_away RENAME TO inbox_events"))

        assert world.emu.drain(timeout=30), world.emu.outbound_deliveries
        outbox = Path(env["MAIL_URL"].removeprefix("outbox://"))

        def welcomed() -> bool:
            assert serve.running(), serve.output()
            return set(emails_to(outbox)) == set(emails)

        wait_until(welcomed, timeout=20, what=f"the welcomes; {emails_to(outbox)}")
        assert _stored(world) == CONTACTS
        ok = [(attempt, n) for attempt, got, n in world.emu.outbound_deliveries if got == 200]
        assert sum(n for _, n in ok) == CONTACTS and all(attempt > 0 for attempt, _ in ok)

        # Salesforce may send a message again after its Ack: Acked, nothing stored twice.
        acked = [body for body, (_, got, _) in zip(world.emu.outbound_sender.bodies,
                                                   world.emu.outbound_deliveries, strict=True)
                 if got == 200]
        for body in acked:
            again = requests.post(target, data=body.encode(), timeout=5,
                                  headers={"Content-Type": "text/xml; charset=utf-8",
                                           "SOAPAction": '""'})
            assert again.status_code == 200 and b"<Ack>true</Ack>" in again.content
        assert _stored(world) == CONTACTS
        time.sleep(1.5)  # three ticks: room for a second welcome, were one queued
        assert emails_to(outbox) == dict.fromkeys(emails, 1)
