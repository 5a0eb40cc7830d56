"""A `connector worker` SIGKILLed while HubSpot holds its batch create of write-backs: the
claim keeps the next worker off the rows until it runs out, then every row is written
once. The rows are on a retry (maybe written), so the next worker looks for them on their
contacts' timelines first: the batch HubSpot took before the kill is found, not written
again (HubSpot's batch create has no idempotency key), and only the rest is created."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest
import redis

from tests.faults.conftest import Processes, start_worker
from tests.faults.hubspot_world import engagements_by_message, hubspot_world
from tests.support.processes import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc"),
]

HUB_ID = 525252
BACKLOG = 150  # one claim; two batch creates of 100 and 50
CREATE = "/crm/v3/objects/emails/batch/create"
ASSOCIATIONS = "/crm/v4/associations/contacts/emails/batch/read"
READ = "/crm/v3/objects/emails/batch/read"
HANG = 3.0


def test_a_worker_killed_during_a_batch_create_leaves_every_row_written_by_the_next(
    processes: Processes, redis_client: redis.Redis, env: dict[str, str]
) -> None:
    with hubspot_world(env) as world:
        account_id = world.connect(HUB_ID)
        messages = world.queue_sent(account_id, BACKLOG, tag="killed")
        world.emu.faults.add(delay=HANG, count=1, path_prefix=CREATE)
        first = start_worker(processes, redis_client, world.env, name="first")

        # The fault is taken when the request arrives: the worker now waits on HubSpot.
        wait_until(lambda: world.emu.faults.pending() == [], timeout=20,
                   what="the first batch create reached HubSpot")
        os.killpg(first.pid, signal.SIGKILL)
        assert first.popen.wait(5) == -signal.SIGKILL
        wait_until(lambda: world.requests("POST", CREATE, 201) == 1, timeout=HANG + 5,
                   what="HubSpot took the batch the dead worker sent")
        taken = set(engagements_by_message(world.portal(account_id)))
        assert len(taken) == 100 and world.statuses(account_id) == {"pending": BACKLOG}

        second = start_worker(processes, redis_client, world.env, name="second")
        time.sleep(1.5)  # three ticks: room for a flush, were the claim not holding it
        assert world.requests("POST", CREATE) == 1, "a claimed row was written again"
        # The claim lasts two minutes (outbox.CLAIM); the test does not wait them out.
        assert world.claims_run_out(world.rt.clock.now()) == BACKLOG

        def done() -> bool:
            assert second.running(), second.output()
            return world.statuses(account_id) == {"done": BACKLOG}

        took = wait_until(done, timeout=30, what=f"every row written; {world.statuses()}")
        counts = engagements_by_message(world.portal(account_id))
        twice = {m for m, n in counts.items() if n > 1}
        assert set(counts) == set(messages)
        assert twice == set(), f"{len(twice)} of {len(taken)} taken before the kill written twice"
        # The look: one associations read for the 150 contacts, one read of the 100 emails
        # found there; then one create for the 50 HubSpot never took.
        assert world.requests("POST", ASSOCIATIONS) == 1 and world.requests("POST", READ) == 1
        assert world.requests("POST", CREATE) == 2
        print(f"written {took:.1f} s after the claim ran out; {len(taken)} found, not rewritten")
