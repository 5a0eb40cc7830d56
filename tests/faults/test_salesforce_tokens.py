"""Session trouble under a running `connector worker`: a session that expires in the middle
of a flush (401 INVALID_SESSION_ID) is refreshed once, through the org's real token
endpoint, and the flush goes on; an org that revoked the app (its tokens and refresh tokens dead)
disconnects its account, holds its write-backs pending for a reconnect, and leaves the
worker serving the other accounts."""

from __future__ import annotations

import sys

import pytest
import redis

from tests.faults.conftest import Processes, start_worker
from tests.faults.salesforce_world import COMPOSITE, TOKEN, salesforce_world, tasks_by_message
from tests.support.processes import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc"),
]

API = "/services/data/"


def test_an_expired_session_is_refreshed_once_and_a_revoked_org_disconnects_only_its_account(
    processes: Processes, redis_client: redis.Redis, env: dict[str, str]
) -> None:
    with salesforce_world(env) as world:
        installed = world.connect(oauth=True)
        other = world.connect()
        granted = world.requests("POST", TOKEN)  # the test's own code exchange
        world.queue_sent(installed, 5, tag="before")
        world.queue_sent(other, 5, tag="other-before")
        worker = start_worker(processes, redis_client, world.env, name="worker")

        def statuses(expected: dict[int, dict[str, int]]) -> bool:
            assert worker.running(), worker.output()
            return all(world.statuses(a) == s for a, s in expected.items())

        wait_until(lambda: statuses({installed: {"done": 5}, other: {"done": 5}}),
                   timeout=20, what=f"the first write-backs; {world.statuses()}")
        assert world.requests("POST", TOKEN) == granted

        # Mid-flush: the org holds the first of two composite creates, and the session dies
        # meanwhile (both the org issued: add_org's ready one and the one the code bought).
        world.emu.faults.add(delay=1.0, count=1, path_prefix=COMPOSITE)
        world.queue_sent(installed, 250, tag="expired")
        wait_until(lambda: world.emu.faults.pending() == [], timeout=20,
                   what="the first composite create reached Salesforce")
        assert world.emu.expire_tokens(world.org(installed)) == 2
        wait_until(lambda: statuses({installed: {"done": 255}}), timeout=20,
                   what=f"the write-backs after the expiry; {world.statuses()}")
        assert world.requests("POST", TOKEN, 200) == granted + 1  # refreshed once
        # The held create was refused 401 (so not carried out) and sent again on the new
        # session; the next create went on.
        assert world.requests("POST", API, 401) == 1
        assert world.requests("POST", COMPOSITE, 401) == 1
        assert world.requests("POST", COMPOSITE, 200) == 2 + 2

        world.emu.revoke(world.org(installed))
        world.queue_sent(installed, 5, tag="revoked")
        world.queue_sent(other, 5, tag="other-after")
        wait_until(lambda: world.account_status(installed) == "disconnected", timeout=20,
                   what="the revoked org's account disconnected")
        wait_until(lambda: statuses({other: {"done": 10}}), timeout=20,
                   what=f"the other account's write-backs; {world.statuses()}")
        # Held for a reconnect, not failed; the refused refresh was asked once.
        assert world.statuses(installed) == {"done": 255, "pending": 5}
        assert world.requests("POST", TOKEN) == granted + 2
        assert worker.running()
        assert sorted(tasks_by_message(world.org(installed)).values()) == [1] * 255
        assert sorted(tasks_by_message(world.org(other)).values()) == [1] * 10
