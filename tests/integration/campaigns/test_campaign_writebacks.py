"""A rep sees a campaign's email by its campaign: its send (services/sending.py, in one
batch per chunk) and a person's open and click of it (services/engagement.py) queue CRM
write-backs that name the campaign; a flow's email's do not.
Real parts: the test's database and Redis, a campaign sent over real SMTP, the real
tracking endpoints, the virtual clock."""

from __future__ import annotations

import html as htmllib
import re
from datetime import timedelta
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from sqlalchemy import select

from connector.clock import VirtualClock
from connector.models import CrmWriteback
from connector.runtime import Runtime
from connector.services.accounts import AccountView
from connector.services.campaigns import start_campaign
from tests.integration.campaigns.conftest import NEWSLETTER, UseCampaigns, add_contacts
from tests.support.http import post
from tests.support.jobs import work
from tests.support.smtp import SmtpServer

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
SIGNUP = {"contact": {"email": "ada@example.com", "properties": {"firstname": "Ada"}},
          "event": "signed_up"}


def tracked(smtp_server: SmtpServer, to: str) -> tuple[str, str]:
    """The paths of the open pixel and the first tracked link of the email to `to`."""
    (message,) = [m for m in smtp_server.messages if str(m["To"]) == to]
    body = message.get_body(("html",))
    assert body is not None
    urls = [htmllib.unescape(u) for u in re.findall(r'(?:href|src)="([^"]+)"',
                                                     body.get_content())]
    pixel = next(u for u in urls if "/t/o/" in u)
    link = next(u for u in urls if "/t/c/" in u)
    return urlsplit(pixel).path, urlsplit(link).path


def engage(rt: Runtime, client: FlaskClient, smtp_server: SmtpServer, to: str) -> None:
    pixel, link = tracked(smtp_server, to)
    assert client.get(pixel, headers={"User-Agent": CHROME}).status_code == 200
    assert client.get(link, headers={"User-Agent": CHROME}).status_code == 302
    work(rt)


def payloads(rt: Runtime, kinds: tuple[str, ...]) -> list[dict[str, object]]:
    with rt.db.session() as session:
        return list(session.scalars(select(CrmWriteback.payload).where(
            CrmWriteback.kind.in_(kinds)).order_by(CrmWriteback.id)))


def test_a_campaign_emails_send_open_and_click_name_the_campaign(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns,
    smtp_server: SmtpServer, client: FlaskClient, clock: VirtualClock,
) -> None:
    use_campaigns(sale=NEWSLETTER.replace("name: Newsletter", "name: Spring sale sneak peek"))
    add_contacts(smtp_rt, account.id, 1)
    start_campaign(smtp_rt, account.id, "sale")
    work(smtp_rt)
    clock.advance(timedelta(minutes=5))  # a person reads it after delivery

    engage(smtp_rt, client, smtp_server, "reader0@example.com")

    [sent] = payloads(smtp_rt, ("email_sent",))
    assert sent["campaign"] == "Spring sale sneak peek"
    engaged = payloads(smtp_rt, ("email_opened", "email_clicked"))
    assert [p.get("campaign") for p in engaged] == ["Spring sale sneak peek"] * 2
    assert "url" in engaged[1]  # the click's write-back as before, plus the campaign


def test_a_flows_emails_write_backs_name_no_campaign(
    smtp_rt: Runtime, account: AccountView, smtp_server: SmtpServer, client: FlaskClient,
    clock: VirtualClock,
) -> None:
    assert post(client, account, SIGNUP).status_code == 202
    work(smtp_rt)
    clock.advance(timedelta(minutes=5))

    engage(smtp_rt, client, smtp_server, "ada@example.com")

    engaged = payloads(smtp_rt, ("email_sent", "email_opened", "email_clicked"))
    assert len(engaged) == 3
    assert all("campaign" not in p for p in engaged)
