"""A Salesforce world for the fault tests: the emulator in the test process (the process
edge), Salesforce accounts connected to emulated orgs (a ready session, or OAuth tokens from
the emulator's real token endpoint), and the environment a `connector worker` / `connector
serve` subprocess needs: the account's instance URL is the emulator's loopback http:// URL
(the adapter speaks plain HTTP to it by itself), the login URL and the connected app's
credentials point the refresh grant at it. What is not Salesforce's is in crm_world.py."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
import requests

from adapters.salesforce.client import API_VERSION
from connector.services.accounts import connect_account
from connector.workspaces import deploy_default
from devcrm.salesforce import Org, SalesforceEmulator
from tests.faults.crm_world import CrmWorld, runtime_open

CLIENT_ID = "faults-consumer-key"
CLIENT_SECRET = "faults-consumer-secret"
COMPOSITE = f"/services/data/v{API_VERSION}/composite/sobjects"
QUERY = f"/services/data/v{API_VERSION}/query"
TOKEN = "/services/oauth2/token"
# adapters.salesforce.writeback.marker(message_id), as a rep sees it in a Task's Description.
_MARKER = re.compile(r"\[drip message ([^\]]+)\]")


class World(CrmWorld[SalesforceEmulator]):
    def connect(self, *, oauth: bool = False, deploy: bool = False) -> int:
        """A new org and an account connected to it (its ready session, or the tokens the
        emulator's token endpoint grants for a code, with a refresh token); the account id."""
        org = self.emu.add_org()
        access, refresh = org.access_token, None
        if oauth:
            answer = requests.post(f"{self.emu.url}{TOKEN}", timeout=5, data={
                "grant_type": "authorization_code", "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET, "code": self.emu.issue_code(org)})
            answer.raise_for_status()
            access, refresh = answer.json()["access_token"], answer.json()["refresh_token"]
        now = self.rt.clock.now()
        with self.rt.db.session() as session:
            account, _ = connect_account(session, self.rt.vault, provider="salesforce",
                                         external_id=org.org_id, access_token=access,
                                         refresh_token=refresh, instance_url=self.emu.url,
                                         now=now)
        if deploy:
            deploy_default(self.rt.db, self.rt.settings, account.id, now)
        return account.id

    def org(self, account_id: int) -> Org:
        return self.emu.org(self.external_id(account_id))

    def queue_sent(self, account_id: int, count: int, *, tag: str) -> list[str]:
        """`count` Contacts in the account's org, mirrored in our database, each with an
        email_sent write-back queued; their message ids (`tag-n`)."""
        org = self.org(account_id)
        people = []
        for n in range(count):
            email = f"{tag}-{n}@example.com"
            people.append((email, org.create("Contact", {"LastName": f"N{n}", "Email": email})))
        return self.queue_sent_to(account_id, people, tag=tag)

    def pause_key(self, account_id: int) -> str:
        """The Redis key of the org's pause (connector/ratelimit.py, adapters' client key)."""
        return f"ratelimit:salesforce:{self.external_id(account_id)[:15]}:pause"

    def a_day_passes(self, account_id: int, connection: redis.Redis) -> None:
        """The org's daily requests free again, and the hour the connector paused it ends."""
        self.emu.limiter.limit = 15_000
        connection.delete(self.pause_key(account_id))


def tasks_by_message(org: Org) -> Counter[str]:
    """How many email Tasks carry each of our message ids (the marker in Description)."""
    found: Counter[str] = Counter()
    for task in org.all("Task"):
        if task.get("TaskSubtype") == "Email":
            found.update(_MARKER.findall(str(task.get("Description") or "")))
    return found


@contextmanager
def salesforce_world(env: dict[str, str], **emulator: Any) -> Iterator[World]:
    """The emulator started, `env` extended to reach it, a runtime on the same database."""
    with SalesforceEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                            **emulator) as emu:
        # The connector may use the whole budget: a test's small daily limit is the org's.
        env = {**env, "SALESFORCE_LOGIN_URL": emu.url, "SALESFORCE_CLIENT_ID": CLIENT_ID,
               "SALESFORCE_CLIENT_SECRET": CLIENT_SECRET, "SALESFORCE_API_SHARE": "1"}
        with runtime_open(env) as rt:
            yield World(emu, rt, env)
