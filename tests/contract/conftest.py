"""One backend per implementation of the CRM port: the adapter under test plus a way to
seed contacts and look at what landed, in the implementation's own terms. Each contract
test runs once per backend."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any, Protocol

import pytest
import redis

from adapters.hubspot.adapter import HubSpotCRM
from adapters.hubspot.client import HubSpotConfig
from adapters.memory import InMemoryCRM
from adapters.port import CRMAdapter
from adapters.salesforce.adapter import SalesforceCRM
from adapters.salesforce.client import SalesforceConfig
from adapters.salesforce.writeback import ENGAGEMENT_SUBJECT
from connector.ratelimit import RedisRateLimiter
from connector.runtime import Runtime
from connector.services.accounts import connect_account
from connector.services.credentials import DatabaseCredentialStore
from devcrm.hubspot import HubSpotEmulator, Portal
from devcrm.salesforce import Org, SalesforceEmulator, plain_http_session

BACKENDS = ["memory", "hubspot", "salesforce"]
_hub_ids = itertools.count(70_001)


class Backend(Protocol):
    crm: CRMAdapter

    def seed(self, email: str, properties: dict[str, str] | None = None, *,
             opted_out: bool = False) -> str:
        """Create a contact in the CRM as a user would; returns its CRM id."""
        ...

    def touch(self, crm_id: str, properties: dict[str, str]) -> None:
        """Change a contact in the CRM as a user would."""
        ...

    def delete(self, crm_id: str) -> None:
        """Delete a contact in the CRM as a user would."""
        ...

    def timeline(self, crm_id: str) -> list[tuple[str, str, str]]:
        """The emails on the contact's timeline: (kind, subject, text), oldest first."""
        ...

    def engagement(self, crm_id: str) -> dict[str, Any]:
        """The engagement summary the CRM holds: opens, clicks, last_email_subject, flows."""
        ...

    def task_subjects(self, crm_id: str) -> list[str]: ...


# Contract cases that cannot apply to a backend, by test name, with the reason (the
# backend fixture skips them saying so).
UNSUPPORTED: dict[str, dict[str, str]] = {
    "hubspot": {
        "test_deleted_since_reads_back_later_deletions_oldest_first":
            "HubSpot sends every deletion as a webhook and its adapter reads none back "
            "(test_deleted_since_reads_back_or_says_the_crm_pushes_them covers its answer)",
    },
    "salesforce": {
        "test_property_updates_are_read_back":
            "it writes HubSpot's `lifecyclestage`, which no Salesforce Contact has (an "
            "unknown field is INVALID_FIELD); tests/functional/salesforce covers updates",
    },
}


class MemoryBackend:
    def __init__(self) -> None:
        self.memory = InMemoryCRM(known_contacts_only=True)
        self.crm: CRMAdapter = self.memory

    def seed(self, email: str, properties: dict[str, str] | None = None, *,
             opted_out: bool = False) -> str:
        return self.memory.add_contact(email, {"email": email, **(properties or {})},
                                       opted_out=opted_out)

    def touch(self, crm_id: str, properties: dict[str, str]) -> None:
        self.memory.update_contact(crm_id, properties)

    def delete(self, crm_id: str) -> None:
        self.memory.delete_contact(crm_id)

    def timeline(self, crm_id: str) -> list[tuple[str, str, str]]:
        return [(a.kind, a.subject, a.text) for a in self.memory.timeline[crm_id]]

    def engagement(self, crm_id: str) -> dict[str, Any]:
        summary = self.memory.engagement[crm_id]
        return {"opens": summary.opens, "clicks": summary.clicks,
                "last_email_subject": summary.last_email_subject,
                "active_flows": list(summary.active_flows)}

    def task_subjects(self, crm_id: str) -> list[str]:
        return [t.subject for t in self.memory.tasks if t.contact_crm_id == crm_id]


HUBSPOT_KINDS = {"SENT": "email_sent", "FAILED": "email_failed", "BOUNCED": "bounced"}


class HubSpotBackend:
    def __init__(self, portal: Portal, crm: HubSpotCRM) -> None:
        self.portal = portal
        self.crm: CRMAdapter = crm

    def seed(self, email: str, properties: dict[str, str] | None = None, *,
             opted_out: bool = False) -> str:
        return self.portal.create_contact({"email": email, **(properties or {}),
                                           "hs_email_optout": "true" if opted_out else "false"})

    def touch(self, crm_id: str, properties: dict[str, str]) -> None:
        self.portal.update_contact(crm_id, properties)

    def delete(self, crm_id: str) -> None:
        self.portal.delete_contact(crm_id)

    def timeline(self, crm_id: str) -> list[tuple[str, str, str]]:
        return [(HUBSPOT_KINDS[e["properties"]["hs_email_status"]],
                 e["properties"]["hs_email_subject"], e["properties"]["hs_email_text"])
                for e in self.portal.timeline(crm_id) if e["type"] == "email"]

    def engagement(self, crm_id: str) -> dict[str, Any]:
        values = self.portal.contacts[crm_id]["properties"]
        flows = values.get("drip_active_flows") or ""
        return {"opens": int(values["drip_opens"]), "clicks": int(values["drip_clicks"]),
                "last_email_subject": values.get("drip_last_email_subject") or None,
                "active_flows": [f for f in flows.split("; ") if f]}

    def task_subjects(self, crm_id: str) -> list[str]:
        return [t["properties"]["hs_task_subject"] for t in self.portal.timeline(crm_id)
                if t["type"] == "task"]


SALESFORCE_STATUS = {"sent": "email_sent", "failed": "email_failed", "bounced": "bounced"}


class SalesforceBackend:
    """An org on the emulator: seeds are Contacts (`properties` in Salesforce's field names,
    any case), the timeline is the contact's email Tasks as our Descriptions state them."""

    def __init__(self, org: Org, crm: SalesforceCRM) -> None:
        self.org = org
        self.crm: CRMAdapter = crm

    def seed(self, email: str, properties: dict[str, str] | None = None, *,
             opted_out: bool = False) -> str:
        return self.org.create("Contact", {"Email": email, "LastName": email.split("@")[0],
                                           **(properties or {}),
                                           "HasOptedOutOfEmail": opted_out})

    def touch(self, crm_id: str, properties: dict[str, str]) -> None:
        self.org.update("Contact", crm_id, properties)

    def delete(self, crm_id: str) -> None:
        self.org.delete("Contact", crm_id)

    def _tasks(self, crm_id: str) -> list[dict[str, Any]]:
        return [t for t in self.org.all("Task") if str(t.get("WhoId"))[:15] == crm_id[:15]]

    def timeline(self, crm_id: str) -> list[tuple[str, str, str]]:
        out = []
        for task in self._tasks(crm_id):
            if task["TaskSubtype"] != "Email":
                continue
            status, text = task["Description"].split("\n\n")[:2]
            out.append((SALESFORCE_STATUS[status.removeprefix("Status: ")],
                        task["Subject"].removeprefix("Email: "), text))
        return out

    def engagement(self, crm_id: str) -> dict[str, Any]:
        (task,) = [t for t in self._tasks(crm_id) if t["Subject"] == ENGAGEMENT_SUBJECT]
        lines = dict(line.split(": ", 1) if ": " in line else (line.rstrip(":"), "")
                     for line in task["Description"].splitlines())
        flows = lines.get("Active flows") or ""
        return {"opens": int(lines["Opens"]), "clicks": int(lines["Clicks"]),
                "last_email_subject": lines.get("Last email") or None,
                "active_flows": [f for f in flows.split("; ") if f]}

    def task_subjects(self, crm_id: str) -> list[str]:
        return [t["Subject"] for t in self._tasks(crm_id)
                if t["TaskSubtype"] == "Task" and t["Subject"] != ENGAGEMENT_SUBJECT]


@pytest.fixture(scope="session")
def salesforce_emulator() -> Iterator[SalesforceEmulator]:
    # A small query batch so paging is exercised with a few hundred records.
    with SalesforceEmulator(client_id="contract-sf-cid", client_secret="contract-sf-secret",
                            query_batch=50) as emu:
        yield emu


def salesforce_adapter(rt: Runtime, redis_conn: redis.Redis, emu: SalesforceEmulator,
                       **options: Any) -> tuple[Org, SalesforceCRM]:
    """A fresh org on the emulator, its account connected with the org's ready token in
    the real database, and the adapter over the real store and Redis limiter (plain HTTP)."""
    org = emu.add_org()
    with rt.db.session() as session:
        view, _ = connect_account(session, rt.vault, provider="salesforce",
                                  external_id=org.org_id, access_token=org.access_token,
                                  instance_url=emu.url, now=rt.clock.now())
    crm = SalesforceCRM(
        account_id=view.id,
        store=DatabaseCredentialStore(rt.db, rt.vault, rt.clock),
        limiter=RedisRateLimiter(redis_conn),
        config=SalesforceConfig(),
        session_factory=plain_http_session,
        **options,
    )
    return org, crm


@pytest.fixture(scope="session")
def hubspot_emulator() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(client_id="contract-cid", client_secret="contract-secret") as emu:
        yield emu


def hubspot_adapter(rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator, *,
                    hub_id: int | None = None, **config: Any) -> tuple[Portal, HubSpotCRM]:
    """A fresh portal on the emulator, its account connected with a private-app token in
    the real database, and the adapter over the real store and Redis limiter."""
    hub_id = hub_id or next(_hub_ids)
    token = f"pat-na1-contract-{hub_id}"
    portal = emu.add_portal(hub_id=hub_id, private_token=token)
    with rt.db.session() as session:
        view, _ = connect_account(session, rt.vault, provider="hubspot",
                                  external_id=str(hub_id), access_token=token,
                                  now=rt.clock.now())
    crm = HubSpotCRM(
        account_id=view.id,
        store=DatabaseCredentialStore(rt.db, rt.vault, rt.clock),
        limiter=RedisRateLimiter(redis_conn),
        config=HubSpotConfig(emu.url, "contract-cid", "contract-secret", **config),
    )
    return portal, crm


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    reason = UNSUPPORTED.get(request.param, {}).get(request.node.originalname)
    if reason is not None:
        pytest.skip(f"does not apply to {request.param}: {reason}")
    if request.param == "memory":
        return MemoryBackend()
    rt: Runtime = request.getfixturevalue("rt")
    redis_conn: redis.Redis = request.getfixturevalue("redis_conn")
    if request.param == "salesforce":
        sf_emu: SalesforceEmulator = request.getfixturevalue("salesforce_emulator")
        return SalesforceBackend(*salesforce_adapter(rt, redis_conn, sf_emu))
    emu: HubSpotEmulator = request.getfixturevalue("hubspot_emulator")
    return HubSpotBackend(*hubspot_adapter(rt, redis_conn, emu))
