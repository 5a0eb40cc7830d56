"""HubSpot misbehaving while a real `connector worker` flushes a backlog of email_sent
write-backs: 429s (with HubSpot's rate-limit body and headers), 502/503 pages, a batch
create that hangs past CRM_REQUEST_TIMEOUT (not sent again: looked for until it lands).
Every row ends done, each engagement exists once in the portal, the 429s cause no storm,
and nothing waits for a backoff of minutes."""

from __future__ import annotations

import sys
import time

import pytest
import redis

from tests.faults.conftest import Processes, start_worker
from tests.faults.hubspot_world import World, engagements_by_message, hubspot_world
from tests.support.processes import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc"),
]

HUB_ID = 515151
BACKLOG = 150  # two batch creates of 100 and 50
CREATE = "/crm/v3/objects/emails/batch/create"
ASSOCIATIONS = "/crm/v4/associations/contacts/emails/batch/read"
TIMEOUT = 1.0  # CRM_REQUEST_TIMEOUT


def _flush(world: World, processes: Processes, redis_client: redis.Redis, account_id: int,
           timeout: float) -> float:
    """Start a worker (its ticker queues the flush) and wait for every row to end done."""
    env = {**world.env, "CRM_REQUEST_TIMEOUT": str(TIMEOUT)}
    worker = start_worker(processes, redis_client, env, name="worker")

    def done() -> bool:
        assert worker.running(), worker.output()
        return world.statuses(account_id) == {"done": BACKLOG}

    return wait_until(done, timeout=timeout, what=f"all rows done; {world.statuses()}")


def test_429s_and_5xx_pages_are_absorbed_and_every_engagement_lands_once(
    processes: Processes, redis_client: redis.Redis, env: dict[str, str]
) -> None:
    with hubspot_world(env) as world:
        account_id = world.connect(HUB_ID)
        messages = world.queue_sent(account_id, BACKLOG, tag="storm")
        world.emu.faults.add(status=429, count=2, path_prefix=CREATE)
        world.emu.faults.add(status=502, count=1, path_prefix=CREATE)
        world.emu.faults.add(status=503, count=1, path_prefix=CREATE)

        took = _flush(world, processes, redis_client, account_id, timeout=45)

        assert world.emu.faults.pending() == []
        counts = engagements_by_message(world.portal(account_id))
        assert counts == dict.fromkeys(messages, 1)
        # Each 429 paused the portal and was retried once: no storm.
        assert world.requests("POST", CREATE, 429) == 2
        assert world.requests("POST", CREATE, 200) + world.requests("POST", CREATE, 201) == 2
        assert world.requests("POST", CREATE) == 6
        # In-call retries, not the outbox's 30 s backoff.
        assert took < 25, f"the flush took {took:.1f} s"


def test_a_batch_create_hanging_past_the_timeout_lands_once(
    processes: Processes, redis_client: redis.Redis, env: dict[str, str]
) -> None:
    with hubspot_world(env) as world:
        account_id = world.connect(HUB_ID)
        messages = world.queue_sent(account_id, BACKLOG, tag="hang")
        # HubSpot takes the batch, but answers after the client gave up on it.
        world.emu.faults.add(delay=TIMEOUT * 3, count=1, path_prefix=CREATE)

        took = _flush(world, processes, redis_client, account_id, timeout=45)
        assert took < 25, f"the flush took {took:.1f} s"
        time.sleep(TIMEOUT * 3)  # room for the hung request to land in the emulator
        counts = engagements_by_message(world.portal(account_id))
        twice = sorted(m for m, n in counts.items() if n > 1)
        assert set(counts) == set(messages)
        assert twice == [], f"{len(twice)} engagements were created twice"
        # The hung create was not sent again: it was looked for on the contacts' timelines
        # (associations, then the emails' headers) until it landed; the next batch created.
        assert world.requests("POST", CREATE) == 2
        assert world.requests("POST", ASSOCIATIONS) >= 1
