"""A HubSpot world for the fault tests: the emulator in the test process (the process edge),
HubSpot accounts connected to emulated portals, and the environment a `connector worker` /
`connector serve` subprocess needs to talk to that emulator. What is not HubSpot's (the
runtime, the rows, the request log) is in crm_world.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

from connector.services.accounts import connect_account
from connector.workspaces import deploy_default
from devcrm.hubspot import HubSpotEmulator, Portal
from tests.faults.crm_world import CrmWorld, emails_to, runtime_open

__all__ = ["World", "emails_to", "engagements_by_message", "hubspot_world"]

CLIENT_ID = "faults-client-id"
CLIENT_SECRET = "faults-client-secret"


class World(CrmWorld[HubSpotEmulator]):
    def connect(self, hub_id: int, *, oauth: bool = False, deploy: bool = False) -> int:
        """A portal and an account connected to it (a private-app token, or OAuth tokens
        from the emulator's real token endpoint); the account id."""
        portal = self.emu.add_portal(hub_id=hub_id, private_token=f"pat-na1-faults-{hub_id}")
        access, refresh = portal.private_token or "", None
        if oauth:
            answer = requests.post(f"{self.emu.url}/oauth/v1/token", timeout=5, data={
                "grant_type": "authorization_code", "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET, "code": self.emu.issue_code(hub_id)})
            answer.raise_for_status()
            access, refresh = answer.json()["access_token"], answer.json()["refresh_token"]
        now = self.rt.clock.now()
        with self.rt.db.session() as session:
            account, _ = connect_account(session, self.rt.vault, provider="hubspot",
                                         external_id=str(hub_id), access_token=access,
                                         refresh_token=refresh, now=now)
        if deploy:
            deploy_default(self.rt.db, self.rt.settings, account.id, now)
        return account.id

    def queue_sent(self, account_id: int, count: int, *, tag: str) -> list[str]:
        """`count` contacts in the account's portal, mirrored in our database, each with an
        email_sent write-back queued; their message ids (`tag-n`)."""
        portal = self.portal(account_id)
        people = []
        for n in range(count):
            email = f"{tag}-{n}@example.com"
            people.append((email, portal.create_contact({"email": email, "firstname": f"N{n}"})))
        return self.queue_sent_to(account_id, people, tag=tag)

    def portal(self, account_id: int) -> Portal:
        return self.emu.portal(int(self.external_id(account_id)))


def engagements_by_message(portal: Portal) -> dict[str, int]:
    """How many email engagements carry each of our message ids (in hs_email_headers)."""
    counts: dict[str, int] = {}
    with portal.lock:
        for record in portal.emails.values():
            headers = json.loads(record["properties"].get("hs_email_headers") or "{}")
            message = str(headers.get("messageId", ""))
            counts[message] = counts.get(message, 0) + 1
    return counts


@contextmanager
def hubspot_world(env: dict[str, str], **emulator: Any) -> Iterator[World]:
    """The emulator started, `env` extended to reach it, a runtime on the same database."""
    with HubSpotEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **emulator) as emu:
        env = {**env, "HUBSPOT_API_BASE": emu.url, "HUBSPOT_CLIENT_ID": CLIENT_ID,
               "HUBSPOT_CLIENT_SECRET": CLIENT_SECRET}
        with runtime_open(env) as rt:
            yield World(emu, rt, env)
