"""The demo's Salesforce: an emulated org (devcrm.salesforce) on the demo's virtual clock,
connected as a second account with the tokens its connected app grants, its Outbound
Messages for Contact and Lead pointed at the demo's server; a few people made there as a
rep would (one Lead converted mid-demo), and what a rep sees at the end: the Tasks on each
person's Activity Timeline and their HasOptedOutOfEmail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from adapters.salesforce.auth import SalesforceOAuth, new_pkce
from connector.clock import Clock
from connector.runtime import Runtime
from connector.services.accounts import connect_account
from connector.services.crm_secrets import inbound_secret
from connector.workspaces import deploy_default
from devcrm.salesforce import Org, SalesforceEmulator

CLIENT_ID, CLIENT_SECRET = "demo-consumer-key", "demo-consumer-secret"
PEOPLE = Path(__file__).parent / "demo_data" / "salesforce_people.json"
# What the default workspace reads, as docs/salesforce.md tells an admin to pick them.
CONTACT_FIELDS = ["Email", "FirstName", "LastName", "HasOptedOutOfEmail", "IsEmailBounced",
                  "LeadSource"]
LEAD_FIELDS = [*CONTACT_FIELDS, "IsConverted", "ConvertedContactId"]
# Retries of an unacknowledged Outbound Message, in real seconds: the demo's server is
# right here, so Salesforce's minutes-long backoff would only stall it.
OUTBOUND_RETRIES = (0.05, 0.1, 0.2, 0.5, 1.0)
REDIRECT_URI = "http://127.0.0.1/demo/oauth/salesforce/callback"  # the code never goes there


@dataclass
class DemoOrg:
    emulator: SalesforceEmulator
    org: Org
    people: list[dict[str, Any]] = field(default_factory=list)  # salesforce_people.json + Id
    endpoint: str = ""  # where the Outbound Messages go, once connected

    @property
    def settings(self) -> dict[str, Any]:
        """What lets the connector refresh the org's sessions (two virtual hours each)."""
        return {"salesforce_login_url": self.emulator.url, "salesforce_client_id": CLIENT_ID,
                "salesforce_client_secret": CLIENT_SECRET}

    def connect(self, rt: Runtime, base_url: str, now: datetime) -> int:
        """The org as an account with the default workspace, its tokens from the connected
        app's code exchange (PKCE), its Outbound Messages sent to our endpoint with the
        account's token in the URL. The account's id."""
        pkce = new_pkce()
        code = self.emulator.issue_code(self.org, REDIRECT_URI, pkce.challenge)
        oauth = SalesforceOAuth(login_url=self.emulator.url, client_id=CLIENT_ID,
                                client_secret=CLIENT_SECRET, timeout=10.0)
        granted = oauth.exchange_code(code, redirect_uri=REDIRECT_URI,
                                      code_verifier=pkce.verifier)
        with rt.db.session() as session:
            account, _ = connect_account(
                session, rt.vault, provider="salesforce", external_id=granted.org_id,
                access_token=granted.grant.access_token,
                refresh_token=granted.grant.refresh_token,
                instance_url=granted.grant.instance_url, name="Demo org", now=now)
        deploy_default(rt.db, rt.settings, account.id, now)
        token = inbound_secret(rt.settings.secret_key or "", account.id)
        self.endpoint = f"{base_url}/webhooks/salesforce/outbound"
        target = f"{self.endpoint}?token={token}"
        self.emulator.outbound(self.org, target, object="Contact", fields=CONTACT_FIELDS)
        self.emulator.outbound(self.org, target, object="Lead", fields=LEAD_FIELDS)
        return account.id

    def create_people(self) -> str:
        """The demo's Salesforce people, made in the org as a rep would (each create sends
        an Outbound Message); what happened, in a sentence."""
        for person in json.loads(PEOPLE.read_text()):
            person["Id"] = self.org.create(person["object"], person["fields"])
            self.people.append(person)
        made = ", ".join(f"{p['fields']['FirstName']} a {p['object']}" for p in self.people)
        opted_out = " and ".join(p["fields"]["FirstName"] for p in self.people
                                 if p["fields"].get("HasOptedOutOfEmail"))
        return (f"{len(self.people)} people made in the emulated Salesforce org "
                f"{self.org.org_id} ({made}; {opted_out or 'nobody'} opted out of email "
                f"there): its Outbound Messages (Contact, Lead) reach {self.endpoint}")

    def after_welcome(self) -> list[tuple[str, str]]:
        """(email, "open" or "unsubscribe"): what each person does with the welcome."""
        return [(p["fields"]["Email"], p["after_welcome"]) for p in self.people
                if "after_welcome" in p]

    def convert_due(self, start: datetime, now: datetime) -> bool:
        """Convert the Leads whose day has come (in the org, as a rep would); whether any
        was."""
        converted = False
        for person in self.people:
            day = person.get("convert_on_day")
            if day is not None and "contact_id" not in person and now >= start + timedelta(
                    days=day):
                person["contact_id"] = self.org.convert_lead(person["Id"])
                converted = True
        return converted

    def settle(self) -> None:
        if not self.emulator.drain(timeout=30):
            raise RuntimeError("the emulated Salesforce could not deliver its Outbound Messages")

    def outbound_acknowledged(self) -> tuple[int, int]:
        """(messages answered 200 with an Ack, notifications in them): the sender retries
        anything else, so every one it logged with 200 was acknowledged."""
        acked = [n for _, outcome, n in self.emulator.outbound_deliveries if outcome == 200]
        return len(acked), sum(acked)

    def sessions_refreshed(self) -> int:
        """Refresh-token grants the connector made (the first token call was the install)."""
        calls = [r for r in self.emulator.requests if r[1] == "/services/oauth2/token"]
        return max(0, len(calls) - 1)


@contextmanager
def demo_org(clock: Clock) -> Iterator[DemoOrg]:
    emulator = SalesforceEmulator(CLIENT_ID, CLIENT_SECRET, outbound_schedule=OUTBOUND_RETRIES,
                                  clock=lambda: clock.now().timestamp())
    with emulator:
        yield DemoOrg(emulator, emulator.add_org())


def print_org(console: Console, demo: DemoOrg, *, emails_sent: int) -> None:
    """Each person as a rep sees them in Salesforce: the Tasks on the Activity Timeline
    (a converted Lead's moved to its Contact) and the opt-out flag."""
    org = demo.org
    console.print()
    console.print(f"[bold]In Salesforce (what a rep sees)[/], org {org.org_id}")
    converted = {p["contact_id"]: p["Id"] for p in demo.people if "contact_id" in p}
    people = [*org.all("Contact"), *(r for r in org.all("Lead") if not r["IsConverted"])]
    email_tasks = 0
    for record in sorted(people, key=lambda r: r["Name"]):
        kind = record["attributes"]["type"]
        origin = f", converted from Lead {converted[record['Id']]}" \
            if record["Id"] in converted else ""
        opted_out = "true" if record["HasOptedOutOfEmail"] else "false"
        console.print(f"[bold]{record['Name']}[/] <{record['Email']}>, {kind} {record['Id']}"
                      f"{origin}: HasOptedOutOfEmail {opted_out}")
        table = Table("Subject", "Status", "TaskSubtype")
        tasks = org.timeline(record["Id"])
        for task in tasks:
            table.add_row(task["Subject"], task["Status"], task["TaskSubtype"])
        if not tasks:
            table.add_row("(no Tasks)", "", "")
        email_tasks += sum(1 for t in tasks if t["TaskSubtype"] == "Email")
        console.print(table)
    messages, notifications = demo.outbound_acknowledged()
    console.print(f"{email_tasks} email Tasks for {emails_sent} emails sent to the org's "
                  f"people; {messages} Outbound Messages acknowledged ({notifications} "
                  f"notifications); {demo.sessions_refreshed()} sessions refreshed")
