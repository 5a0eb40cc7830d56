"""A HubSpot portal end to end, over real sockets: contacts created and changed in the
emulated portal -> its signed webhooks -> /webhooks/hubspot on a real server -> the events
worker reads them back with the real HubSpot adapter -> flows -> emails -> the email
engagements, the app's engagement properties and the opt-out land back in the portal."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from connector.app import create_app
from connector.clock import VirtualClock
from connector.local.webserver import WebServer
from connector.models import Contact, CrmWriteback, Enrollment
from connector.runtime import Runtime
from connector.scheduler import tick
from connector.services.accounts import connect_account
from connector.workspaces import deploy_default
from devcrm.hubspot import HubSpotEmulator, Portal
from tests.conftest import MakeRuntime
from tests.support.jobs import work
from tests.support.mail import outbox

HUB_ID = 424242
TOKEN = "pat-na1-end-to-end"
SECRET = "e2e-client-secret"
SUBSCRIPTIONS = [("contact.creation", None), ("contact.deletion", None),
                 ("contact.propertyChange", "lifecyclestage"),
                 ("contact.propertyChange", "firstname")]


class World:
    def __init__(self, rt: Runtime, emu: HubSpotEmulator, portal: Portal, clock: VirtualClock,
                 client: FlaskClient) -> None:
        self.rt, self.emu, self.portal, self.clock, self.client = rt, emu, portal, clock, client

    def settle(self) -> None:
        """Let the webhooks arrive and the workers finish."""
        assert self.emu.drain(timeout=10)
        work(self.rt)

    def tick(self, delta: timedelta = timedelta(seconds=1)) -> None:
        self.clock.advance(delta)
        tick(self.rt, self.clock.now())
        work(self.rt)

    def mirror(self, crm_id: str) -> Contact:
        with self.rt.db.session() as session:
            contact = session.scalar(select(Contact).where(Contact.crm_id == crm_id))
            assert contact is not None
            session.expunge(contact)
            return contact


@pytest.fixture
def world(make_runtime: MakeRuntime, clock: VirtualClock) -> Iterator[World]:
    # The emulator signs its webhooks with the wall clock; the connector checks them
    # against its own: start the test's clock at the wall clock's now.
    clock.set(datetime.now(UTC))
    server = WebServer()
    with HubSpotEmulator(client_id="e2e-client-id", client_secret=SECRET) as emu:
        rt = make_runtime(crm={}, hubspot_api_base=emu.url, hubspot_client_id="e2e-client-id",
                          hubspot_client_secret=SECRET, public_base_url=server.base_url)
        app = create_app(rt)
        server.start(app)
        try:
            portal = emu.add_portal(hub_id=HUB_ID, private_token=TOKEN)
            with rt.db.session() as session:
                account, _ = connect_account(session, rt.vault, provider="hubspot",
                                             external_id=str(HUB_ID), access_token=TOKEN,
                                             now=clock.now())
            deploy_default(rt.db, rt.settings, account.id, clock.now())
            emu.subscribe(f"{server.base_url}/webhooks/hubspot", SUBSCRIPTIONS)
            yield World(rt, emu, portal, clock, app.test_client())
        finally:
            server.stop()


def _urls(message: EmailMessage) -> list[str]:
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    return [u.replace("&amp;", "&") for u in re.findall(r'(?:href|src)="([^"]+)"', html)]


def test_a_contact_created_in_hubspot_is_welcomed_and_the_rep_sees_it(world: World) -> None:
    ann_id = world.portal.create_contact({"email": "ann@example.com", "firstname": "Ann"})
    world.settle()

    [welcome] = outbox(world.rt)
    assert welcome["To"] == "ann@example.com"
    assert "Ann" in welcome.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert world.mirror(ann_id).properties["firstname"] == "Ann"

    world.tick()  # the write-back outbox flushes
    [engagement] = [e for e in world.portal.timeline(ann_id) if e["type"] == "email"]
    values = engagement["properties"]
    assert values["hs_email_status"] == "SENT"
    assert values["hs_email_subject"] == welcome["Subject"]
    assert "Ann" in values["hs_email_text"]

    # She opens it: the app's properties on her contact say so.
    pixel = next(u for u in _urls(welcome) if "/t/o/" in u)
    assert world.client.get(urlsplit(pixel).path).status_code == 200
    work(world.rt)
    world.tick()
    properties = world.portal.contacts[ann_id]["properties"]
    assert properties["drip_opens"] == "1"
    assert properties["drip_last_email_subject"] == welcome["Subject"]
    assert "welcome" in properties["drip_active_flows"]

    # She unsubscribes: HubSpot's communication preferences record it.
    unsubscribe = str(welcome["List-Unsubscribe"]).strip().strip("<>")
    answer = world.client.post(urlsplit(unsubscribe).path,
                               data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code in (200, 204)
    work(world.rt)
    world.tick()
    assert world.portal.opted_out("ann@example.com") is not None
    with world.rt.db.session() as session:
        failed = session.scalars(select(CrmWriteback.last_error)
                                 .where(CrmWriteback.status != "done")).all()
    assert failed == []


def test_a_property_change_in_hubspot_moves_the_contact_into_a_segment_flow(
    world: World
) -> None:
    bo_id = world.portal.create_contact({"email": "bo@example.com", "firstname": "Bo"})
    world.settle()
    world.portal.update_contact(bo_id, {"lifecyclestage": "customer"})
    world.settle()

    bo = world.mirror(bo_id)
    assert bo.properties["lifecyclestage"] == "customer"
    with world.rt.db.session() as session:
        flows = set(session.scalars(select(Enrollment.flow_key)
                                    .where(Enrollment.contact_id == bo.id)))
    assert flows == {"welcome", "product-spotlight"}  # customers enter the spotlight


def test_a_contact_deleted_in_hubspot_stops_and_is_erased(world: World) -> None:
    cy_id = world.portal.create_contact({"email": "cy@example.com", "firstname": "Cy"})
    world.settle()
    world.portal.delete_contact(cy_id)
    world.settle()

    cy = world.mirror(cy_id)
    assert (cy.email, cy.properties, cy.deleted_at is not None) == (None, {}, True)
    with world.rt.db.session() as session:
        states = session.scalars(select(Enrollment.state)
                                 .where(Enrollment.contact_id == cy.id)).all()
    assert states == ["exited"]
    world.tick(timedelta(days=3))
    assert len(outbox(world.rt)) == 1  # the welcome, nothing after
