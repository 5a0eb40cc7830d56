"""A Salesforce org end to end, over real sockets: Leads and Contacts created, converted and
opted out in the emulated org -> its SOAP Outbound Messages -> /webhooks/salesforce/outbound
on a real server -> flows -> emails -> the Tasks a rep sees on the Activity Timeline, and
the unsubscribe as HasOptedOutOfEmail, written by the Salesforce adapter that
connector/crm.py builds for the account."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from connector.app import create_app
from connector.clock import VirtualClock
from connector.local.webserver import WebServer
from connector.models import Contact, CrmWriteback, Suppression
from connector.runtime import Runtime
from connector.scheduler import tick
from connector.services.accounts import connect_account
from connector.services.crm_secrets import inbound_secret
from connector.workspaces import deploy_default
from devcrm.salesforce import Org, SalesforceEmulator
from tests.conftest import MakeRuntime
from tests.support.jobs import work
from tests.support.mail import outbox

FIELDS = ["Email", "FirstName", "LastName", "HasOptedOutOfEmail", "IsEmailBounced",
          "LeadSource", "CreatedDate", "LastModifiedDate"]


class World:
    def __init__(self, rt: Runtime, emu: SalesforceEmulator, org: Org, clock: VirtualClock,
                 client: FlaskClient) -> None:
        self.rt, self.emu, self.org, self.clock, self.client = rt, emu, org, clock, client

    def settle(self) -> None:
        """Let the Outbound Messages arrive (Acked) and the workers finish."""
        assert self.emu.drain(timeout=10)
        work(self.rt)

    def tick(self, delta: timedelta = timedelta(seconds=1)) -> None:
        self.clock.advance(delta)
        tick(self.rt, self.clock.now())
        work(self.rt)

    def mirror(self) -> list[tuple[str | None, str | None]]:
        with self.rt.db.session() as session:
            return [(c.crm_id, c.email) for c in session.scalars(
                select(Contact).where(Contact.merged_into_id.is_(None)).order_by(Contact.id))]

    def tasks(self, who_id: str) -> list[dict[str, object]]:
        return [t for t in self.org.all("Task") if t.get("WhoId") == who_id]


@pytest.fixture
def world(make_runtime: MakeRuntime, clock: VirtualClock) -> Iterator[World]:
    clock.set(datetime.now(UTC))
    server = WebServer()
    with SalesforceEmulator(outbound_schedule=(0.05, 0.1, 0.2)) as emu:
        rt = make_runtime(crm={}, public_base_url=server.base_url)
        app = create_app(rt)
        server.start(app)
        try:
            org = emu.add_org()
            with rt.db.session() as session:
                account, _ = connect_account(session, rt.vault, provider="salesforce",
                                             external_id=org.org_id,
                                             access_token=org.access_token,
                                             instance_url=emu.url, now=clock.now())
            deploy_default(rt.db, rt.settings, account.id, clock.now())
            secret = inbound_secret(rt.settings.secret_key or "", account.id)
            target = f"{server.base_url}/webhooks/salesforce/outbound?token={secret}"
            emu.outbound(org, target, object="Contact", fields=FIELDS)
            emu.outbound(org, target, object="Lead",
                         fields=[*FIELDS, "IsConverted", "ConvertedContactId"])
            yield World(rt, emu, org, clock, app.test_client())
        finally:
            server.stop()


def test_a_lead_is_welcomed_converted_and_unsubscribed_and_the_rep_sees_each(
    world: World
) -> None:
    lead = world.org.create("Lead", {"LastName": "Lovelace", "FirstName": "Ada",
                                     "Company": "Engines", "Email": "ada@example.com"})
    world.settle()
    [welcome] = outbox(world.rt)
    assert welcome["To"] == "ada@example.com"
    world.tick()  # the write-back outbox flushes
    [task] = world.tasks(lead)
    assert task["Subject"] == f"Email: {welcome['Subject']}"
    assert (task["TaskSubtype"], task["Status"]) == ("Email", "Completed")

    contact = world.org.convert_lead(lead)
    world.settle()
    assert world.mirror() == [(contact, "ada@example.com")]  # one person, now the Contact
    assert len(outbox(world.rt)) == 1  # the Contact is no new person: no second welcome

    # She unsubscribes from the welcome: the Contact she became is opted out.
    unsubscribe = str(welcome["List-Unsubscribe"]).strip().strip("<>")
    answer = world.client.post(urlsplit(unsubscribe).path,
                               data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code in (200, 204)
    work(world.rt)
    world.tick()
    assert world.org.find("Contact", contact)["HasOptedOutOfEmail"] is True
    with world.rt.db.session() as session:
        failed = session.scalars(select(CrmWriteback.last_error)
                                 .where(CrmWriteback.status != "done")).all()
    assert failed == []


def test_an_opt_out_or_a_bounce_set_in_salesforce_stops_the_emails(world: World) -> None:
    grace = world.org.create("Contact", {"LastName": "Hopper", "Email": "grace@example.com",
                                         "HasOptedOutOfEmail": True})
    world.org.create("Contact", {"LastName": "Liskov", "Email": "barbara@example.com",
                                 "IsEmailBounced": True})
    world.settle()
    assert outbox(world.rt) == []
    with world.rt.db.session() as session:
        reasons = dict(session.execute(select(Suppression.email, Suppression.reason)).all())
    assert reasons == {"grace@example.com": "opted out in the CRM",
                       "barbara@example.com": "bounced in the CRM"}

    world.org.update("Contact", grace, {"HasOptedOutOfEmail": False})
    world.settle()
    with world.rt.db.session() as session:
        assert session.scalars(select(Suppression.email)).all() == ["barbara@example.com"]
