"""A campaign's email on the HubSpot timeline names its campaign: its write-backs, queued in
one batch as the send path queues them, flushed through the outbox by the real HubSpot
adapter into the emulated portal, arrive as email engagements whose subject (the card's
heading) leads with the campaign's name. A flow's email keeps its subject."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from connector.clock import VirtualClock
from connector.models import CrmWriteback
from connector.runtime import Runtime
from connector.services.accounts import connect_account
from connector.services.writeback import flush_writebacks
from devcrm.hubspot import HubSpotEmulator, Portal
from tests.conftest import MakeRuntime
from tests.support.writebacks import queue, sent_emails

HUB_ID = 515151
TOKEN = "pat-na1-campaign-timeline"


class World:
    def __init__(self, rt: Runtime, portal: Portal, account_id: int) -> None:
        self.rt, self.portal, self.account_id = rt, portal, account_id

    def emails_of(self, crm_id: str) -> list[dict[str, Any]]:
        return [e["properties"] for e in self.portal.timeline(crm_id) if e["type"] == "email"]

    def flush(self) -> None:
        flush_writebacks(self.rt, self.account_id)
        with self.rt.db.session() as session:
            assert session.query(CrmWriteback).filter(CrmWriteback.status != "done").count() == 0


@pytest.fixture
def world(make_runtime: MakeRuntime) -> Iterator[World]:
    with HubSpotEmulator(client_id="timeline-cid", client_secret="timeline-secret") as emu:
        rt = make_runtime(crm={}, hubspot_api_base=emu.url, hubspot_client_id="timeline-cid",
                          hubspot_client_secret="timeline-secret")
        portal = emu.add_portal(hub_id=HUB_ID, private_token=TOKEN)
        with rt.db.session() as session:
            account, _ = connect_account(session, rt.vault, provider="hubspot",
                                         external_id=str(HUB_ID), access_token=TOKEN,
                                         now=rt.clock.now())
        yield World(rt, portal, account.id)


def test_a_campaign_email_engagement_leads_with_the_campaign_and_a_flows_does_not(
    world: World
) -> None:
    ann = world.portal.create_contact({"email": "ann@example.com"})
    bo = world.portal.create_contact({"email": "bo@example.com"})
    sale = sent_emails(world.rt, world.account_id, [(ann, "ann@example.com")],
                       campaign="Spring sale sneak peek", subject="20% off, this weekend only")
    welcome = sent_emails(world.rt, world.account_id, [(bo, "bo@example.com")],
                          campaign=None, subject="Welcome aboard")
    assert queue(world.rt, sale + welcome, "email_sent") == 2

    world.flush()

    [campaign_email] = world.emails_of(ann)
    assert campaign_email["hs_email_subject"] == (
        "Spring sale sneak peek: 20% off, this weekend only")
    assert campaign_email["hs_email_status"] == "SENT"
    [flow_email] = world.emails_of(bo)
    assert flow_email["hs_email_subject"] == "Welcome aboard"


def test_a_bounce_of_a_campaign_email_updates_its_engagement_and_keeps_the_campaign(
    world: World, clock: VirtualClock
) -> None:
    ann = world.portal.create_contact({"email": "ann@example.com"})
    sale = sent_emails(world.rt, world.account_id, [(ann, "ann@example.com")],
                       campaign="Spring sale sneak peek", subject="20% off")
    queue(world.rt, sale, "email_sent")
    world.flush()
    clock.advance(timedelta(minutes=1))
    queue(world.rt, sale, "bounced", text="550 5.1.1 no such user")
    world.flush()

    [campaign_email] = world.emails_of(ann)  # the same engagement, updated
    assert (campaign_email["hs_email_status"], campaign_email["hs_email_subject"]) == (
        "BOUNCED", "Spring sale sneak peek: 20% off")
