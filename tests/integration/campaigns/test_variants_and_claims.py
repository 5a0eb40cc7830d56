"""An A/B test whose samples cover the audience, a cancel during the send, and the send
job's claim serving flow emails before campaign ones."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from connector.models import CampaignRecipient, Message
from connector.runtime import Runtime
from connector.services.accounts import AccountView
from connector.services.campaigns import advance_campaign, cancel_campaign, start_campaign
from connector.services.campaigns.advance import CHUNK
from connector.services.sending import deliver_pending
from connector.settings import SettingsError, load_settings
from tests.integration.campaigns.conftest import (
    NEWSLETTER,
    UseCampaigns,
    add_contacts,
    mailed,
    status_of,
)
from tests.support.jobs import work
from tests.support.smtp import SmtpServer

HALVES = """\
name: Subject test
variants:
  - {key: short, template: seasonal-sale, subject: "20% off", sample: 0.5}
  - {key: long, template: seasonal-sale, subject: "Twenty percent off everything", sample: 0.5}
audience:
  list: newsletter
"""


def test_variants_split_the_audience_by_their_samples(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns,
    smtp_server: SmtpServer,
) -> None:
    use_campaigns(halves=HALVES)
    add_contacts(smtp_rt, account.id, 200)
    campaign_id = start_campaign(smtp_rt, account.id, "halves")
    work(smtp_rt)

    subjects = Counter(str(m["Subject"]) for m in smtp_server.messages)
    assert set(subjects) == {"20% off", "Twenty percent off everything"}
    assert sum(subjects.values()) == 200
    assert 70 <= subjects["20% off"] <= 130  # a stable hash, not a coin per run
    with smtp_rt.db.session() as session:
        variants = Counter(session.scalars(select(CampaignRecipient.variant).where(
            CampaignRecipient.campaign_id == campaign_id)))
    assert variants == {"short": subjects["20% off"],
                        "long": subjects["Twenty percent off everything"]}


def test_a_cancelled_campaign_mails_nobody_else(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns,
    smtp_server: SmtpServer,
) -> None:
    use_campaigns(newsletter=NEWSLETTER)
    add_contacts(smtp_rt, account.id, 2 * CHUNK)
    campaign_id = start_campaign(smtp_rt, account.id, "newsletter")
    advance_campaign(smtp_rt, campaign_id)
    cancel_campaign(smtp_rt, account.id, "newsletter")
    work(smtp_rt)

    assert len(mailed(smtp_server)) == CHUNK
    status = status_of(smtp_rt, account.id, "newsletter")
    assert status is not None
    assert (status.state, status.sent, status.remaining) == (
        "cancelled", CHUNK, CHUNK)


def test_the_send_job_takes_flow_rows_before_campaign_rows(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns,
    smtp_server: SmtpServer,
) -> None:
    use_campaigns(newsletter=NEWSLETTER)
    contacts = add_contacts(smtp_rt, account.id, 4)
    campaign_id = start_campaign(smtp_rt, account.id, "newsletter")
    now = smtp_rt.clock.now()
    with smtp_rt.db.session() as session:  # campaign rows left pending (older), a flow's
        for n, contact_id in enumerate(contacts[:3]):
            session.add(Message(account_id=account.id, contact_id=contact_id,
                                campaign_id=campaign_id, template="seasonal-sale",
                                public_id=f"c{n:031d}", to_email=f"reader{n}@example.com",
                                created_at=now))
        session.flush()
        session.add(Message(account_id=account.id, contact_id=contacts[3], flow_key="welcome",
                            template="welcome", public_id="f" * 32,
                            to_email="reader3@example.com", created_at=now))

    assert deliver_pending(smtp_rt, limit=1) == 1

    assert [m["To"] for m in smtp_server.messages] == ["reader3@example.com"]


def test_send_rate_is_checked_at_start_up() -> None:
    assert load_settings(SEND_RATE="50/s").campaign_send_rate == (50, 1.0)
    assert load_settings(SEND_RATE="2000/2h").campaign_send_rate == (2000, 7200.0)
    with pytest.raises(SettingsError, match=r"SEND_RATE: .*got 'fast'"):
        load_settings(SEND_RATE="fast")
