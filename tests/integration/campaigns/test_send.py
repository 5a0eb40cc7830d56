"""A campaign from start to sent: everyone in the frozen audience mailed exactly once over
real SMTP, chunk by chunk, with its UTM parameters; pause and resume; an unsubscribe
during the send; an audience that changes after the start."""

from __future__ import annotations

import html as htmllib
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, select

from connector.models import CampaignRun, EngagementEvent, ListMembership, Message
from connector.runtime import Runtime
from connector.services.accounts import AccountView
from connector.services.campaigns import (
    CampaignError,
    advance_campaign,
    pause_campaign,
    resume_campaign,
    start_campaign,
)
from connector.services.campaigns.advance import CHUNK
from connector.services.suppressions import suppress
from tests.integration.campaigns.conftest import (
    NEWSLETTER,
    UseCampaigns,
    add_contacts,
    ledger,
    mailed,
    on_list,
    status_of,
)
from tests.support.jobs import work
from tests.support.smtp import SmtpServer

SALE = """\
name: Spring sale
template: seasonal-sale
subject: Spring sale, 20% off
audience:
  list: newsletter
  exclude:
    - list: staff
utm:
  source: drip
  medium: email
  campaign: spring
"""


def test_everyone_in_the_audience_gets_it_exactly_once_with_utm_links(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns,
    smtp_server: SmtpServer,
) -> None:
    use_campaigns(sale=SALE)
    add_contacts(smtp_rt, account.id, 2 * CHUNK + 7)
    staff = add_contacts(smtp_rt, account.id, 3, list_key="staff", prefix="staff")
    on_list(smtp_rt, account.id, staff, "newsletter")  # on the newsletter too: excluded

    campaign_id = start_campaign(smtp_rt, account.id, "sale")
    work(smtp_rt)

    expected = {f"reader{n}@example.com" for n in range(2 * CHUNK + 7)}
    assert set(mailed(smtp_server)) == expected
    assert set(mailed(smtp_server).values()) == {1}
    assert ledger(smtp_rt, campaign_id) == {"sent": len(expected)}
    status = status_of(smtp_rt, account.id, "sale")
    assert status is not None
    assert (status.state, status.audience, status.sent, status.skipped, status.failed) == (
        "sent", len(expected), len(expected), {}, 0)
    assert status.remaining == 0
    email = smtp_server.messages[0]
    assert email["Subject"] == "Spring sale, 20% off"
    with smtp_rt.db.session() as session:
        links = session.scalars(
            select(Message.links).where(Message.campaign_id == campaign_id)).first()
    assert links, "the sale template has links"
    query = parse_qs(urlsplit(links[0]).query)
    assert (query["utm_source"], query["utm_medium"], query["utm_campaign"]) == (
        ["drip"], ["email"], ["spring"])


def test_a_paused_campaign_stops_after_its_chunk_and_resumes_where_it_stopped(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns,
    smtp_server: SmtpServer,
) -> None:
    use_campaigns(newsletter=NEWSLETTER)
    add_contacts(smtp_rt, account.id, 2 * CHUNK)
    campaign_id = start_campaign(smtp_rt, account.id, "newsletter")
    advance_campaign(smtp_rt, campaign_id)  # the first half, as a worker would
    pause_campaign(smtp_rt, account.id, "newsletter")
    work(smtp_rt)  # the queued advance finds it paused

    assert len(smtp_server.messages) == CHUNK
    status = status_of(smtp_rt, account.id, "newsletter")
    assert status is not None and (status.state, status.sent) == ("paused", CHUNK)
    with pytest.raises(CampaignError, match="is paused: only a campaign sending can be paused"):
        pause_campaign(smtp_rt, account.id, "newsletter")

    resume_campaign(smtp_rt, account.id, "newsletter")
    work(smtp_rt)

    assert len(mailed(smtp_server)) == 2 * CHUNK
    assert set(mailed(smtp_server).values()) == {1}
    assert ledger(smtp_rt, campaign_id) == {"sent": 2 * CHUNK}
    with smtp_rt.db.session() as session:
        assert session.get_one(CampaignRun, campaign_id).state == "sent"


def test_a_contact_who_unsubscribes_during_the_send_is_skipped(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns,
    smtp_server: SmtpServer,
) -> None:
    use_campaigns(newsletter=NEWSLETTER)
    add_contacts(smtp_rt, account.id, 2 * CHUNK)
    campaign_id = start_campaign(smtp_rt, account.id, "newsletter")
    advance_campaign(smtp_rt, campaign_id)
    late = f"reader{2 * CHUNK - 1}@example.com"  # in the second chunk
    with smtp_rt.db.session() as session:
        suppress(session, account.id, late, "unsubscribed", smtp_rt.clock.now())
    work(smtp_rt)

    assert late not in mailed(smtp_server)
    assert len(mailed(smtp_server)) == 2 * CHUNK - 1
    status = status_of(smtp_rt, account.id, "newsletter")
    assert status is not None
    assert (status.state, status.sent, status.skipped) == (
        "sent", 2 * CHUNK - 1, {"unsubscribed": 1})
    assert status.as_json()["skipped"] == {"unsubscribed": 1}


def test_the_audience_is_frozen_when_sending_starts(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns,
    smtp_server: SmtpServer,
) -> None:
    use_campaigns(newsletter=NEWSLETTER)
    first = add_contacts(smtp_rt, account.id, 5)
    start_campaign(smtp_rt, account.id, "newsletter")
    add_contacts(smtp_rt, account.id, 5, prefix="newcomer")  # joined after the start
    with smtp_rt.db.session() as session:  # one left the list after the start
        session.execute(delete(ListMembership).where(ListMembership.contact_id == first[0]))
    work(smtp_rt)

    assert set(mailed(smtp_server)) == {f"reader{n}@example.com" for n in range(5)}


def test_a_campaign_starts_once_and_says_why_it_cannot(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns,
) -> None:
    use_campaigns(newsletter=NEWSLETTER, weekend=WINNER_PICKED)
    add_contacts(smtp_rt, account.id, 2)
    start_campaign(smtp_rt, account.id, "newsletter")
    with pytest.raises(CampaignError, match="was started already \\(it is sending\\)"):
        start_campaign(smtp_rt, account.id, "newsletter")
    with pytest.raises(CampaignError, match="no campaign 'nope' \\(campaigns: newsletter, "
                                            "weekend\\)"):
        start_campaign(smtp_rt, account.id, "nope")
    with pytest.raises(CampaignError, match="campaign weekend has not been started"):
        pause_campaign(smtp_rt, account.id, "weekend")


WINNER_PICKED = """\
name: Weekend test
variants:
  - key: a
    template: seasonal-sale
    subject: A
    sample: 0.1
  - key: b
    template: seasonal-sale
    subject: B
    sample: 0.1
pick_after: 4h
audience:
  list: newsletter
"""


def test_a_click_on_a_campaign_email_lands_on_the_link_with_its_utm_parameters(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns,
    smtp_server: SmtpServer, client: FlaskClient,
) -> None:
    use_campaigns(sale=SALE)
    add_contacts(smtp_rt, account.id, 1)
    start_campaign(smtp_rt, account.id, "sale")
    work(smtp_rt)
    html = smtp_server.messages[0].get_body(("html",)).get_content()  # type: ignore[union-attr]
    tracked = [u for u in re.findall(r'href="([^"]+)"', html) if "/t/c/" in u]

    landed = client.get(urlsplit(htmllib.unescape(tracked[0])).path)
    work(smtp_rt)  # the click's reactions (flows, CRM write-back) run for a campaign email

    assert landed.status_code == 302
    assert parse_qs(urlsplit(landed.headers["Location"]).query)["utm_campaign"] == ["spring"]
    with smtp_rt.db.session() as session:
        assert session.scalar(select(EngagementEvent.kind)) == "click"
        assert session.scalar(select(EngagementEvent.processed_at)) is not None
