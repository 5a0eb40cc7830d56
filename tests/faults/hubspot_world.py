"""A HubSpot world for the fault tests: the emulator in the test process (the process edge),
the connector's database and Redis seen from the test through a Runtime of its own, HubSpot
accounts connected to emulated portals, and the environment a `connector worker` /
`connector serve` subprocess needs to talk to that emulator."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import func, select, update

from connector.clock import SystemClock
from connector.models import Account, CrmWriteback
from connector.runtime import Runtime, build_runtime
from connector.services.accounts import connect_account
from connector.services.contacts import upsert_contact
from connector.services.writeback import queue_writeback
from connector.settings import load_settings
from connector.workspaces import deploy_default
from devcrm.hubspot import HubSpotEmulator, Portal

CLIENT_ID = "faults-client-id"
CLIENT_SECRET = "faults-client-secret"
# What the runtime of the test process reads from a subprocess's environment.
SHARED = ("APP_ENV", "DATABASE_URL", "REDIS_URL", "VAR_DIR", "MAIL_URL", "SECRET_KEY",
          "ENCRYPTION_KEYS", "FLOWS_DIR", "TEMPLATES_DIR", "SEGMENTS_DIR", "PUBLIC_BASE_URL",
          "HUBSPOT_API_BASE", "HUBSPOT_CLIENT_ID", "HUBSPOT_CLIENT_SECRET")


@dataclass
class World:
    emu: HubSpotEmulator
    rt: Runtime  # the test's view of the connector's database and Redis
    env: dict[str, str]  # for the connector's subprocesses

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
        ids: list[str] = []
        now = self.rt.clock.now()
        with self.rt.db.session() as session:
            for n in range(count):
                email = f"{tag}-{n}@example.com"
                crm_id = portal.create_contact({"email": email, "firstname": f"N{n}"})
                contact = upsert_contact(session, account_id, email=email, crm_id=crm_id,
                                         properties={}, now=now).contact
                session.flush()
                message = f"{tag}-{n}"
                queue_writeback(session, account_id=account_id, contact_id=contact.id,
                                kind="email_sent", dedup_key=f"email_sent:{message}",
                                payload={"message": message, "subject": f"Subject {message}",
                                         "text": f"Hello {n}"}, now=now)
                ids.append(message)
        return ids

    def portal(self, account_id: int) -> Portal:
        with self.rt.db.session() as session:
            return self.emu.portal(int(session.get_one(Account, account_id).external_id))

    def statuses(self, account_id: int | None = None) -> dict[str, int]:
        """How many write-backs are in each status."""
        query = select(CrmWriteback.status, func.count()).group_by(CrmWriteback.status)
        if account_id is not None:
            query = query.where(CrmWriteback.account_id == account_id)
        with self.rt.db.session() as session:
            return {status: count for status, count in session.execute(query)}

    def account_status(self, account_id: int) -> str:
        with self.rt.db.session() as session:
            return session.get_one(Account, account_id).status

    def claims_run_out(self, now: datetime) -> int:
        """Stand in for a claim's two minutes passing: claimed rows become due now."""
        with self.rt.db.session() as session:
            result: Any = session.execute(
                update(CrmWriteback)
                .where(CrmWriteback.status == "pending", CrmWriteback.next_attempt_at > now)
                .values(next_attempt_at=now))
            return int(result.rowcount)

    def requests(self, method: str, path: str, status: int | None = None) -> int:
        """How many requests the emulator answered for `method path*` (with `status`)."""
        return sum(1 for m, p, s, _ in list(self.emu.requests)
                   if m == method and p.startswith(path) and status in (None, s))


def engagements_by_message(portal: Portal) -> dict[str, int]:
    """How many email engagements carry each of our message ids (in hs_email_headers)."""
    counts: dict[str, int] = {}
    with portal.lock:
        for record in portal.emails.values():
            headers = json.loads(record["properties"].get("hs_email_headers") or "{}")
            message = str(headers.get("messageId", ""))
            counts[message] = counts.get(message, 0) + 1
    return counts


def emails_to(outbox: Path) -> Counter[str]:
    """How many emails each address received (the files of MAIL_URL=outbox://...)."""
    found: Counter[str] = Counter()
    for path in outbox.glob("*.eml"):
        for line in path.read_text(errors="replace").splitlines():
            if line.lower().startswith("to:"):
                found[line.split(":", 1)[1].strip()] += 1
                break
    return found


@contextmanager
def hubspot_world(env: dict[str, str], **emulator: Any) -> Iterator[World]:
    """The emulator started, `env` extended to reach it, a runtime on the same database."""
    with HubSpotEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **emulator) as emu:
        env = {**env, "HUBSPOT_API_BASE": emu.url, "HUBSPOT_CLIENT_ID": CLIENT_ID,
               "HUBSPOT_CLIENT_SECRET": CLIENT_SECRET}
        rt = runtime_for(env)
        try:
            yield World(emu, rt, env)
        finally:
            rt.close()


def runtime_for(env: dict[str, str]) -> Runtime:
    """A runtime on what a subprocess with `env` uses (system clock, as theirs)."""
    settings = load_settings(**{k: env[k] for k in SHARED if k in env})
    return build_runtime(settings, redis_url=env["REDIS_URL"], clock=SystemClock())
