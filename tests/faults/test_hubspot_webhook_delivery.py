"""HubSpot's webhooks while the connector's web is down, then answering 500: the emulator
retries on its schedule (and sends each batch twice, as HubSpot may); once `connector
serve` stores them, each contact creation is stored once and welcomed once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select, text

from connector.models import InboxEvent
from tests.faults.conftest import Processes, answers_ready
from tests.faults.hubspot_world import World, emails_to, hubspot_world
from tests.support.processes import wait_until
from tests.support.smtp import free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc"),
]

HUB_ID = 555555
CONTACTS = 5


def _failed(world: World, outcome: int | str) -> int:
    return sum(1 for _, got, _ in list(world.emu.webhook_deliveries) if got == outcome)


def test_webhooks_refused_while_the_web_is_down_or_failing_are_stored_and_welcomed_once(
    processes: Processes, redis_client: redis.Redis, env: dict[str, str]
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with hubspot_world({**env, "PUBLIC_BASE_URL": base, "PORT": str(port)},
                       webhook_duplicates=True) as world:
        account_id = world.connect(HUB_ID, deploy=True)
        world.emu.subscribe(f"{base}/webhooks/hubspot", [("contact.creation", None)])
        emails = [f"hook-{n}@example.com" for n in range(CONTACTS)]
        for email in emails:
            world.portal(account_id).create_contact({"email": email, "firstname": "Hook"})

        # Down: nothing listens on the port.
        wait_until(lambda: _failed(world, "ConnectionError") >= 4, timeout=10,
                   what=f"deliveries refused; {world.emu.webhook_deliveries}")
        # Then up, but its database refuses the inbox's insert: 500.
        with world.rt.db.engine.begin() as connection:
            connection.execute(text("ALTER TABLE inbox_events RENAME TO inbox_events_away"))
        serve = processes.connector("serve", env=world.env, name="serve")
        wait_until(lambda: serve.running() and answers_ready(port), timeout=30,
                   what=f"connector serve ready\n{serve.output()}")
        wait_until(lambda: _failed(world, 500) >= 1, timeout=20,
                   what=f"a delivery answered 500; {world.emu.webhook_deliveries}")
        with world.rt.db.engine.begin() as connection:
            connection.execute(text("ALTER TABLE inbox_events_away RENAME TO inbox_events"))

        assert world.emu.drain(timeout=30), world.emu.webhook_deliveries
        outbox = Path(env["MAIL_URL"].removeprefix("outbox://"))

        def welcomed() -> bool:
            assert serve.running(), serve.output()
            return set(emails_to(outbox)) == set(emails)

        wait_until(welcomed, timeout=20, what=f"the welcomes; {emails_to(outbox)}")
        with world.rt.db.session() as session:
            stored = session.scalar(select(func.count()).select_from(InboxEvent))
        assert stored == CONTACTS
        assert emails_to(outbox) == dict.fromkeys(emails, 1)
        ok = [(attempt, n) for attempt, got, n in world.emu.webhook_deliveries if got == 200]
        assert len(ok) >= 2 and all(attempt > 0 for attempt, _ in ok)  # both copies, retried
