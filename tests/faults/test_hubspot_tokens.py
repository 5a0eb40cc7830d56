"""OAuth trouble under a running `connector worker`: an access token that expires mid-run is
refreshed once, through HubSpot's real token endpoint, and the write-backs carry on; an
app the portal uninstalled (tokens revoked) disconnects its account, holds its write-backs
pending for a reinstall, and leaves the worker serving the other accounts."""

from __future__ import annotations

import sys

import pytest
import redis

from tests.faults.conftest import Processes, start_worker
from tests.faults.hubspot_world import engagements_by_message, hubspot_world
from tests.support.processes import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc"),
]

OAUTH_HUB, PRIVATE_HUB = 535353, 545454
TOKEN = "/oauth/2026-03/token"


def test_an_expired_token_is_refreshed_once_and_a_revoked_app_disconnects_only_its_account(
    processes: Processes, redis_client: redis.Redis, env: dict[str, str]
) -> None:
    with hubspot_world(env) as world:
        installed = world.connect(OAUTH_HUB, oauth=True)
        other = world.connect(PRIVATE_HUB)
        world.queue_sent(installed, 5, tag="before")
        world.queue_sent(other, 5, tag="other-before")
        worker = start_worker(processes, redis_client, world.env, name="worker")

        def statuses(expected: dict[int, dict[str, int]]) -> bool:
            assert worker.running(), worker.output()
            return all(world.statuses(a) == s for a, s in expected.items())

        wait_until(lambda: statuses({installed: {"done": 5}, other: {"done": 5}}),
                   timeout=20, what=f"the first write-backs; {world.statuses()}")
        assert world.requests("POST", TOKEN) == 0

        assert world.emu.expire_tokens(OAUTH_HUB) == 1
        world.queue_sent(installed, 5, tag="expired")
        wait_until(lambda: statuses({installed: {"done": 10}}), timeout=20,
                   what=f"the write-backs after the expiry; {world.statuses()}")
        assert world.requests("POST", TOKEN, 200) == 1  # refreshed once
        assert world.requests("POST", "/crm/", 401) == 1  # the one expired call

        world.emu.revoke(OAUTH_HUB)
        world.queue_sent(installed, 5, tag="revoked")
        world.queue_sent(other, 5, tag="other-after")
        wait_until(lambda: world.account_status(installed) == "disconnected", timeout=20,
                   what="the uninstalled account disconnected")
        wait_until(lambda: statuses({other: {"done": 10}}), timeout=20,
                   what=f"the other account's write-backs; {world.statuses()}")
        # Held for a reinstall, not failed; the refused refresh was asked once.
        assert world.statuses(installed) == {"done": 10, "pending": 5}
        assert world.requests("POST", TOKEN) == 2
        assert worker.running()
        assert sorted(engagements_by_message(world.portal(installed)).values()) == [1] * 10
        assert sorted(engagements_by_message(world.portal(other)).values()) == [1] * 10
