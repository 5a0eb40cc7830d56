"""`local_time: "09:00"`: each recipient at 09:00 in their own timezone within 24 hours of
the start, on the virtual clock with the scheduler ticking: recipients get a due time, an
advance claims the due ones only, the campaign sleeps until the next due time."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from connector.clock import VirtualClock
from connector.models import CampaignRun, Contact, Message
from connector.runtime import Runtime
from connector.scheduler import tick
from connector.services.accounts import AccountView
from connector.services.campaigns import start_campaign
from tests.integration.campaigns.conftest import NEWSLETTER, UseCampaigns, add_contacts
from tests.support.jobs import work

LOCAL = NEWSLETTER + 'local_time: "09:00"\n'
ZONES = {"new-york": "America/New_York", "tokyo": "Asia/Tokyo"}


def with_timezone(rt: Runtime, contact_ids: list[int], name: str | None) -> None:
    with rt.db.session() as session:
        session.execute(update(Contact).where(Contact.id.in_(contact_ids))
                        .values(timezone=name))


def sent_at(rt: Runtime) -> dict[str, datetime | None]:
    with rt.db.session() as session:
        return dict(session.execute(select(Message.to_email, Message.sent_at)).all())


def test_each_recipient_gets_it_at_nine_in_their_own_timezone(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns, clock: VirtualClock,
) -> None:
    use_campaigns(local=LOCAL)
    start = clock.now()  # Monday 2026-01-05 09:00 UTC
    for prefix, name in ZONES.items():
        with_timezone(smtp_rt, add_contacts(smtp_rt, account.id, 3, prefix=prefix), name)
    add_contacts(smtp_rt, account.id, 2, prefix="utc")  # no timezone: the account's, UTC
    campaign_id = start_campaign(smtp_rt, account.id, "local")
    work(smtp_rt)

    # 09:00 UTC has come: those without a timezone now; New York (UTC-5) is next.
    assert set(sent_at(smtp_rt)) == {"utc0@example.com", "utc1@example.com"}
    with smtp_rt.db.session() as session:
        run = session.get_one(CampaignRun, campaign_id)
        assert (run.state, run.next_advance_at) == ("sending", datetime(2026, 1, 5, 14, 0,
                                                                        tzinfo=UTC))
    for _ in range(24 * 4):  # the scheduler, a tick every virtual quarter of an hour
        clock.advance(timedelta(minutes=15))
        tick(smtp_rt, clock.now())
        work(smtp_rt)

    times = sent_at(smtp_rt)
    assert len(times) == 8
    for email, at in times.items():
        assert at is not None and start <= at < start + timedelta(hours=24)
        prefix = email.split("@")[0].rstrip("0123456789")
        local = at.astimezone(ZoneInfo(ZONES[prefix]) if prefix in ZONES else UTC)
        assert (local.hour, local.minute) == (9, 0), (email, local)
    assert times["new-york0@example.com"] == datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
    assert times["tokyo0@example.com"] == datetime(2026, 1, 6, 0, 0, tzinfo=UTC)
    with smtp_rt.db.session() as session:
        assert session.get_one(CampaignRun, campaign_id).state == "sent"


LOCAL_AB = """\
name: Weekend test
variants:
  - {key: a, template: seasonal-sale, subject: A, sample: 0.25}
  - {key: b, template: seasonal-sale, subject: B, sample: 0.25}
pick_after: 2h
audience:
  list: newsletter
local_time: "09:00"
"""


def test_an_ab_tests_rest_goes_at_the_next_nine_after_the_pick(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns, clock: VirtualClock,
) -> None:
    use_campaigns(local=LOCAL_AB)
    with_timezone(smtp_rt, add_contacts(smtp_rt, account.id, 20, prefix="tokyo"),
                  "Asia/Tokyo")
    campaign_id = start_campaign(smtp_rt, account.id, "local")  # 18:00 in Tokyo
    work(smtp_rt)
    for _ in range(44 * 2):
        clock.advance(timedelta(minutes=30))
        tick(smtp_rt, clock.now())
        work(smtp_rt)

    samples, rest = datetime(2026, 1, 6, 0, 0, tzinfo=UTC), datetime(2026, 1, 7, 0, 0,
                                                                      tzinfo=UTC)
    with smtp_rt.db.session() as session:
        run = session.get_one(CampaignRun, campaign_id)
        assert (run.state, run.picked_at) == ("sent", samples + timedelta(hours=2))
        times = Counter(session.scalars(select(Message.sent_at)))
    assert set(times) == {samples, rest} and times.total() == 20
