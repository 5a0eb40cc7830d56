"""A campaign's email on the Salesforce Activity Timeline names its campaign: its
write-backs, queued in one batch as the send path queues them, flushed through the outbox
by the real Salesforce adapter into the emulated org, arrive as email Tasks whose Subject
reads "Email: <campaign>: <subject>" (cut at 255) and whose Description names the campaign
whole. A flow's email keeps "Email: <subject>"."""

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
from devcrm.salesforce import Org, SalesforceEmulator
from tests.conftest import MakeRuntime
from tests.support.writebacks import queue, sent_emails

SALE = "Spring sale sneak peek"


class World:
    def __init__(self, rt: Runtime, org: Org, account_id: int) -> None:
        self.rt, self.org, self.account_id = rt, org, account_id

    def person(self, email: str) -> str:
        return self.org.create("Contact", {"LastName": email.split("@")[0], "Email": email})

    def tasks_of(self, who_id: str) -> list[dict[str, Any]]:
        return [t for t in self.org.all("Task") if t.get("WhoId") == who_id]

    def flush(self) -> None:
        flush_writebacks(self.rt, self.account_id)
        with self.rt.db.session() as session:
            assert session.query(CrmWriteback).filter(CrmWriteback.status != "done").count() == 0


@pytest.fixture
def world(make_runtime: MakeRuntime) -> Iterator[World]:
    with SalesforceEmulator() as emu:
        rt = make_runtime(crm={})
        org = emu.add_org()
        with rt.db.session() as session:
            account, _ = connect_account(session, rt.vault, provider="salesforce",
                                         external_id=org.org_id, access_token=org.access_token,
                                         instance_url=emu.url, now=rt.clock.now())
        yield World(rt, org, account.id)


def test_a_campaign_email_task_names_the_campaign_and_a_flows_does_not(world: World) -> None:
    ada, bo = world.person("ada@example.com"), world.person("bo@example.com")
    sale = sent_emails(world.rt, world.account_id, [(ada, "ada@example.com")], campaign=SALE,
                       subject="20% off, this weekend only")
    welcome = sent_emails(world.rt, world.account_id, [(bo, "bo@example.com")],
                          campaign=None, subject="Welcome aboard")
    assert queue(world.rt, sale + welcome, "email_sent") == 2

    world.flush()

    [task] = world.tasks_of(ada)
    assert task["Subject"] == f"Email: {SALE}: 20% off, this weekend only"
    assert (task["TaskSubtype"], task["Status"]) == ("Email", "Completed")
    assert str(task["Description"]).startswith(f"Status: sent\nCampaign: {SALE}\n\n")
    [flow_task] = world.tasks_of(bo)
    assert flow_task["Subject"] == "Email: Welcome aboard"
    assert "Campaign:" not in str(flow_task["Description"])


def test_a_long_campaign_name_and_subject_are_cut_at_255_and_the_name_kept_whole(
    world: World
) -> None:
    ada = world.person("ada@example.com")
    long_name = "The great " + "very " * 35 + "long sale"  # 194 of the name's 200
    subject = "A subject long enough to run past the 255 characters of a Task's Subject"
    sale = sent_emails(world.rt, world.account_id, [(ada, "ada@example.com")],
                       campaign=long_name, subject=subject)
    queue(world.rt, sale, "email_sent")

    world.flush()

    [task] = world.tasks_of(ada)
    assert len(task["Subject"]) == 255
    assert task["Subject"].startswith(f"Email: {long_name}: A subject")
    assert f"Campaign: {long_name}\n" in str(task["Description"])


def test_a_bounce_of_a_campaign_email_updates_its_task_and_keeps_the_campaign(
    world: World, clock: VirtualClock
) -> None:
    ada = world.person("ada@example.com")
    sale = sent_emails(world.rt, world.account_id, [(ada, "ada@example.com")], campaign=SALE,
                       subject="20% off")
    queue(world.rt, sale, "email_sent")
    world.flush()
    clock.advance(timedelta(minutes=1))
    queue(world.rt, sale, "bounced", text="550 5.1.1 no such user")
    world.flush()

    [task] = world.tasks_of(ada)  # the same Task, updated
    assert task["Subject"] == f"Email: {SALE}: 20% off"
    assert str(task["Description"]).startswith(f"Status: bounced\nCampaign: {SALE}\n\n550")
