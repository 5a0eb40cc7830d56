"""An A/B test whose samples leave a rest: the samples go first, the winner is picked
`pick_after` later on the virtual clock from unique HUMAN clicks per email sent (a link
scanner's clicks count for nothing), why it won is kept with every variant's counts, and
the rest get the winner, each once. Real parts: database, Redis, SMTP, the click service."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from connector.clock import VirtualClock
from connector.models import CampaignRecipient, CampaignRun, EngagementEvent, Message
from connector.runtime import Runtime
from connector.scheduler import tick
from connector.services.accounts import AccountView
from connector.services.campaigns import start_campaign
from connector.services.engagement import record_click, record_open
from tests.integration.campaigns.conftest import UseCampaigns, add_contacts, mailed, status_of
from tests.support.jobs import work
from tests.support.smtp import SmtpServer

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
PROOFPOINT = "Proofpoint URL Defense/1.0"
IPHONE_MAIL = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
               "(KHTML, like Gecko) Mobile/15E148")
APPLE_MPP = "Mozilla/5.0"

WEEKEND = """\
name: Weekend test
variants:
  - {key: urgency, template: seasonal-sale, subject: "This weekend only", sample: 0.2}
  - {key: friendly, template: seasonal-sale, subject: "A little treat", sample: 0.2}
pick_after: 4h
pick_by: clicks
audience:
  list: newsletter
"""


def sample_messages(rt: Runtime, campaign_id: int) -> dict[str, list[str]]:
    """The public ids of the sample emails sent, by variant."""
    with rt.db.session() as session:
        rows = session.execute(
            select(CampaignRecipient.variant, Message.public_id)
            .join(Message, (Message.campaign_id == CampaignRecipient.campaign_id)
                  & (Message.contact_id == CampaignRecipient.contact_id))
            .where(CampaignRecipient.campaign_id == campaign_id, Message.status == "sent",
                   CampaignRecipient.variant.is_not(None)))
        by_variant: dict[str, list[str]] = {}
        for variant, public_id in rows:
            by_variant.setdefault(str(variant), []).append(public_id)
        return by_variant


def tick_and_work(rt: Runtime, clock: VirtualClock, step: timedelta) -> None:
    clock.advance(step)
    tick(rt, clock.now())
    work(rt)


def test_the_winner_is_picked_from_human_clicks_and_the_rest_get_it_once(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns,
    smtp_server: SmtpServer, clock: VirtualClock,
) -> None:
    use_campaigns(weekend=WEEKEND)
    add_contacts(smtp_rt, account.id, 150)
    campaign_id = start_campaign(smtp_rt, account.id, "weekend")
    work(smtp_rt)

    samples = sample_messages(smtp_rt, campaign_id)
    sampled = len(samples["urgency"]) + len(samples["friendly"])
    assert len(smtp_server.messages) == sampled
    assert 30 <= sampled <= 90  # 40% of 150 by a stable hash
    assert set(Counter(str(m["Subject"]) for m in smtp_server.messages)) == {
        "This weekend only", "A little treat"}

    with smtp_rt.db.session() as session:  # the scheduler wakes it for the pick
        run = session.get_one(CampaignRun, campaign_id)
        assert (run.state, run.next_advance_at) == ("sending", clock.now() + timedelta(hours=4))

    clock.advance(timedelta(minutes=5))
    now = clock.now()
    # Two people click "friendly" (one of them twice: counted once) ...
    for public_id in (samples["friendly"][0], samples["friendly"][0], samples["friendly"][1]):
        record_click(smtp_rt, public_id, 0, now, user_agent=CHROME)
    # ... and a scanner clicks every "urgency" email: not one of them counts.
    for public_id in samples["urgency"]:
        record_click(smtp_rt, public_id, 0, now, user_agent=PROOFPOINT)
    work(smtp_rt)
    with smtp_rt.db.session() as session:
        assert Counter(session.scalars(select(EngagementEvent.machine))) == {
            False: 3, True: len(samples["urgency"])}

    tick_and_work(smtp_rt, clock, timedelta(hours=3, minutes=50))  # before pick_after
    assert len(smtp_server.messages) == sampled
    tick_and_work(smtp_rt, clock, timedelta(minutes=10))
    tick_and_work(smtp_rt, clock, timedelta(minutes=1))

    counts = mailed(smtp_server)
    assert len(counts) == 150 and set(counts.values()) == {1}
    rest_subjects = Counter(str(m["Subject"]) for m in smtp_server.messages[sampled:])
    assert rest_subjects == {"A little treat": 150 - sampled}
    with smtp_rt.db.session() as session:
        run = session.get_one(CampaignRun, campaign_id)
        assert (run.state, run.winner) == ("sent", "friendly")
        assert run.picked_at is not None and run.winner_reason is not None
        reason = run.winner_reason
    assert reason["by"] == "clicks"
    assert reason["variants"]["friendly"] == {
        "sent": len(samples["friendly"]), "engaged": 2,
        "rate": round(2 / len(samples["friendly"]), 6)}
    assert reason["variants"]["urgency"]["engaged"] == 0
    assert reason["summary"].startswith(
        f"friendly: 2 unique human clicks of {len(samples['friendly'])} sent")
    status = status_of(smtp_rt, account.id, "weekend")
    assert status is not None and (status.sent, status.winner) == (150, "friendly")
    assert status.as_json()["winner_reason"]["summary"] == reason["summary"]


def test_equal_rates_pick_the_variant_written_first(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns,
    smtp_server: SmtpServer, clock: VirtualClock,
) -> None:
    use_campaigns(weekend=WEEKEND)
    add_contacts(smtp_rt, account.id, 40)
    campaign_id = start_campaign(smtp_rt, account.id, "weekend")
    work(smtp_rt)
    tick_and_work(smtp_rt, clock, timedelta(hours=4))
    tick_and_work(smtp_rt, clock, timedelta(minutes=1))

    assert len(mailed(smtp_server)) == 40
    with smtp_rt.db.session() as session:
        run = session.get_one(CampaignRun, campaign_id)
        assert run.winner == "urgency"  # no clicks at all: a tie, the first variant
        assert run.winner_reason is not None
        assert "equal rates: the variant written first" in run.winner_reason["rule"]


def test_pick_by_opens_counts_people_not_a_privacy_proxys_prefetch(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns,
    smtp_server: SmtpServer, clock: VirtualClock,
) -> None:
    use_campaigns(weekend=WEEKEND.replace("pick_by: clicks", "pick_by: opens"))
    add_contacts(smtp_rt, account.id, 60)
    campaign_id = start_campaign(smtp_rt, account.id, "weekend")
    work(smtp_rt)
    samples = sample_messages(smtp_rt, campaign_id)
    clock.advance(timedelta(minutes=5))
    for public_id in samples["urgency"]:  # Apple's proxy fetches every image on arrival
        record_open(smtp_rt, public_id, clock.now(), user_agent=APPLE_MPP)
    record_open(smtp_rt, samples["friendly"][0], clock.now(), user_agent=IPHONE_MAIL)
    work(smtp_rt)
    tick_and_work(smtp_rt, clock, timedelta(hours=4))
    tick_and_work(smtp_rt, clock, timedelta(minutes=1))

    assert len(mailed(smtp_server)) == 60
    with smtp_rt.db.session() as session:
        run = session.get_one(CampaignRun, campaign_id)
        assert run.winner == "friendly" and run.winner_reason is not None
        assert run.winner_reason["variants"]["friendly"]["engaged"] == 1
        assert run.winner_reason["summary"].startswith("friendly: 1 unique human opens of")
