"""A `connector worker` SIGKILLed while the org holds its composite create of email Tasks:
the claim keeps the next worker off the rows until it runs out, then every row is written
once. The rows are on a retry (maybe written), so the next worker looks for their markers
on the contacts' email Tasks first: the 200 Tasks Salesforce took before the kill are
found, not written again (a composite create has no idempotency key), and only the rest is
created."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest
import redis

from tests.faults.conftest import Processes, start_worker
from tests.faults.salesforce_world import COMPOSITE, QUERY, salesforce_world, tasks_by_message
from tests.support.processes import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc"),
]

BACKLOG = 250  # claims of 200 and 50, one composite create each
HANG = 3.0


def test_a_worker_killed_during_a_composite_create_leaves_every_row_written_by_the_next(
    processes: Processes, redis_client: redis.Redis, env: dict[str, str]
) -> None:
    with salesforce_world(env) as world:
        account_id = world.connect()
        messages = world.queue_sent(account_id, BACKLOG, tag="killed")
        world.emu.faults.add(delay=HANG, count=1, path_prefix=COMPOSITE)
        first = start_worker(processes, redis_client, world.env, name="first")

        # The fault is taken when the request arrives: the worker now waits on Salesforce.
        wait_until(lambda: world.emu.faults.pending() == [], timeout=20,
                   what="the first composite create reached Salesforce")
        os.killpg(first.pid, signal.SIGKILL)
        assert first.popen.wait(5) == -signal.SIGKILL
        wait_until(lambda: world.requests("POST", COMPOSITE, 200) == 1, timeout=HANG + 5,
                   what="Salesforce took the create the dead worker sent")
        org = world.org(account_id)
        taken = set(tasks_by_message(org))
        assert len(taken) == 200 and world.statuses(account_id) == {"pending": BACKLOG}

        second = start_worker(processes, redis_client, world.env, name="second")
        # The 50 rows the dead worker never claimed were due all along: written now.
        wait_until(lambda: world.statuses(account_id) == {"pending": 200, "done": 50},
                   timeout=20, what=f"the unclaimed rows written; {world.statuses()}")
        time.sleep(1.5)  # three ticks: room for a flush, were the claim not holding it
        assert world.statuses(account_id) == {"pending": 200, "done": 50}
        assert world.requests("POST", COMPOSITE) == 2, "a claimed row was written again"
        # The claim lasts two minutes (outbox.CLAIM); the test does not wait them out.
        assert world.claims_run_out(world.rt.clock.now()) == 200

        def done() -> bool:
            assert second.running(), second.output()
            return world.statuses(account_id) == {"done": BACKLOG}

        took = wait_until(done, timeout=30, what=f"every row written; {world.statuses()}")
        counts = tasks_by_message(org)
        twice = {m for m, n in counts.items() if n > 1}
        assert set(counts) == set(messages)
        assert twice == set(), f"{len(twice)} of {len(taken)} taken before the kill written twice"
        # The look: one query of the 200 contacts' email Tasks; no create for what it found.
        assert world.requests("GET", QUERY) == 1
        assert world.requests("POST", COMPOSITE) == 2
        print(f"written {took:.1f} s after the claim ran out; {len(taken)} found, not rewritten")
