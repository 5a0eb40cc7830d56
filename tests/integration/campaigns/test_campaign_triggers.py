"""Engagement with a campaign feeds flows (issue 10): "clicked mass email A -> send email
B" for campaigns. A flow whose trigger is `{type: engagement, action: clicked, campaign:
sale}` starts for a person's click on the sale's email only: not for a link scanner's,
not for a click on another campaign's email. The same engagement, as a campaign's
audience rule, resolves in SQL. Real parts: the test's database and Redis,
real SMTP, the real click endpoint, the virtual clock."""

from __future__ import annotations

import html as htmllib
import re
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from connector.clock import VirtualClock
from connector.models import CampaignRun, Contact, EngagementEvent, Message
from connector.runtime import Runtime
from connector.services.accounts import AccountView
from connector.services.campaigns import start_campaign
from connector.services.facts import load_facts
from connector.workspaces import deploy_files, read_workspace
from tests.integration.campaigns.conftest import NEWSLETTER, add_contacts
from tests.support.jobs import work
from tests.support.paths import ROOT
from tests.support.smtp import SmtpServer

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
PROOFPOINT = "Proofpoint URL Defense/1.0"
# Email B: a flow started by a click on the sale's email (and by nothing else).
CLICKED_SALE = """\
name: Clicked the sale
trigger:
  type: engagement
  action: clicked
  campaign: sale
settings:
  reentry: once
steps:
  - {id: follow-up, send: getting-started}
"""

# A second campaign to the clickers of the first: its audience is resolved in SQL.
CLICKERS = """\
name: To the sale's clickers
template: seasonal-sale
audience:
  rule: {clicked: {campaign: sale}}
"""


@pytest.fixture
def workspace(smtp_rt: Runtime, account: AccountView, tmp_path: Path) -> None:
    """The repo's segments and templates, the one flow above, campaigns sale and other
    (both to the newsletter list) and clickers."""
    for folder, files in (
        ("flows", {"clicked-sale.yaml": CLICKED_SALE}),
        ("campaigns", {"sale.yaml": NEWSLETTER, "other.yaml": NEWSLETTER,
                       "clickers.yaml": CLICKERS}),
    ):
        (tmp_path / folder).mkdir()
        for name, text in files.items():
            (tmp_path / folder / name).write_text(text)
    files = read_workspace(tmp_path / "flows", ROOT / "segments", ROOT / "templates",
                           tmp_path / "campaigns")
    deploy_files(smtp_rt.db, smtp_rt.settings, account.id, files, now=smtp_rt.clock.now())
    smtp_rt.workspaces.forget(account.id)


def sent_campaign(rt: Runtime, account: AccountView, key: str) -> None:
    start_campaign(rt, account.id, key)
    work(rt)


def link_of(rt: Runtime, smtp_server: SmtpServer, key: str, email: str) -> str:
    """The path of the first tracked link in campaign `key`'s email to `email`."""
    with rt.db.session() as session:
        header = session.scalar(
            select(Message.message_id_header).join(CampaignRun,
                                                   CampaignRun.id == Message.campaign_id)
            .where(CampaignRun.key == key, Message.to_email == email))
    (message,) = [m for m in smtp_server.messages if m["Message-ID"] == header]
    body = message.get_body(("html",))
    assert body is not None
    tracked = [u for u in re.findall(r'href="([^"]+)"', body.get_content()) if "/t/c/" in u]
    return urlsplit(htmllib.unescape(tracked[0])).path


def click(rt: Runtime, client: FlaskClient, path: str, user_agent: str) -> None:
    assert client.get(path, headers={"User-Agent": user_agent}).status_code == 302
    work(rt)  # the click's reactions: the flow's entry and its email


def follow_ups(rt: Runtime) -> Counter[str]:
    """Email B by recipient."""
    with rt.db.session() as session:
        return Counter(session.scalars(select(Message.to_email).where(
            Message.template == "getting-started", Message.status == "sent")))


@pytest.mark.usefixtures("workspace")
def test_a_persons_click_on_the_campaign_email_starts_the_flow_once(
    smtp_rt: Runtime, account: AccountView, smtp_server: SmtpServer, client: FlaskClient,
    clock: VirtualClock,
) -> None:
    add_contacts(smtp_rt, account.id, 2)
    sent_campaign(smtp_rt, account, "sale")
    clock.advance(timedelta(minutes=5))  # a person reads it after delivery
    link = link_of(smtp_rt, smtp_server, "sale", "reader0@example.com")

    click(smtp_rt, client, link, CHROME)
    click(smtp_rt, client, link, CHROME)  # clicked again: the flow enters once

    assert follow_ups(smtp_rt) == {"reader0@example.com": 1}
    assert [str(m["To"]) for m in smtp_server.messages].count("reader0@example.com") == 2
    with smtp_rt.db.session() as session:  # the rules' facts name the campaign too
        contact = session.scalars(select(Contact).where(
            Contact.email == "reader0@example.com")).one()
        facts = load_facts(session, contact, clock.now())
    assert {(e.action, e.campaign) for e in facts.engagements} == {("click", "sale")}


@pytest.mark.usefixtures("workspace")
def test_a_scanners_click_starts_nothing(
    smtp_rt: Runtime, account: AccountView, smtp_server: SmtpServer, client: FlaskClient,
    clock: VirtualClock,
) -> None:
    add_contacts(smtp_rt, account.id, 1)
    sent_campaign(smtp_rt, account, "sale")
    clock.advance(timedelta(minutes=5))

    click(smtp_rt, client, link_of(smtp_rt, smtp_server, "sale", "reader0@example.com"),
          PROOFPOINT)

    with smtp_rt.db.session() as session:
        assert session.scalar(select(EngagementEvent.machine_reason)) == "scanner-user-agent"
    assert follow_ups(smtp_rt) == {}


@pytest.mark.usefixtures("workspace")
def test_a_click_on_another_campaigns_email_starts_nothing(
    smtp_rt: Runtime, account: AccountView, smtp_server: SmtpServer, client: FlaskClient,
    clock: VirtualClock,
) -> None:
    add_contacts(smtp_rt, account.id, 1)
    sent_campaign(smtp_rt, account, "sale")
    sent_campaign(smtp_rt, account, "other")
    clock.advance(timedelta(minutes=5))

    click(smtp_rt, client, link_of(smtp_rt, smtp_server, "other", "reader0@example.com"),
          CHROME)

    with smtp_rt.db.session() as session:
        assert session.scalar(select(EngagementEvent.machine)) is False
    assert follow_ups(smtp_rt) == {}


@pytest.mark.usefixtures("workspace")
def test_a_campaign_to_the_clickers_of_another_reaches_its_human_clickers_only(
    smtp_rt: Runtime, account: AccountView, smtp_server: SmtpServer, client: FlaskClient,
    clock: VirtualClock,
) -> None:
    add_contacts(smtp_rt, account.id, 3)
    sent_campaign(smtp_rt, account, "sale")
    sent_campaign(smtp_rt, account, "other")
    clock.advance(timedelta(minutes=5))
    click(smtp_rt, client, link_of(smtp_rt, smtp_server, "sale", "reader0@example.com"),
          CHROME)
    click(smtp_rt, client, link_of(smtp_rt, smtp_server, "sale", "reader1@example.com"),
          PROOFPOINT)
    click(smtp_rt, client, link_of(smtp_rt, smtp_server, "other", "reader2@example.com"),
          CHROME)

    sent_campaign(smtp_rt, account, "clickers")

    with smtp_rt.db.session() as session:
        audience = session.scalar(select(CampaignRun.audience).where(
            CampaignRun.key == "clickers"))
        to = list(session.scalars(select(Message.to_email).join(
            CampaignRun, CampaignRun.id == Message.campaign_id).where(
            CampaignRun.key == "clickers")))
    assert (audience, to) == (1, ["reader0@example.com"])
