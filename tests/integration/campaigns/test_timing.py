"""When campaigns send: a scheduled one at its time on the virtual clock, a throttled one
at most its rate per window (the deployment's SEND_RATE shared across campaigns), and the
scheduler's sweep bringing back advances Redis lost."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from connector.clock import VirtualClock
from connector.models import CampaignRun, Message
from connector.runtime import Runtime
from connector.scheduler import tick
from connector.services.accounts import AccountView
from connector.services.campaigns import start_campaign
from connector.workspaces import WorkspaceError
from tests.conftest import MakeRuntime
from tests.integration.campaigns.conftest import (
    NEWSLETTER,
    UseCampaigns,
    add_contacts,
    mailed,
    status_of,
)
from tests.support.jobs import work
from tests.support.smtp import SmtpServer

THROTTLED = NEWSLETTER + "throttle: 10/m\n"


def run_minutes(rt: Runtime, clock: VirtualClock, minutes: int) -> None:
    """The scheduler ticking once a virtual minute, the jobs it queues run to the end."""
    for _ in range(minutes):
        clock.advance(timedelta(minutes=1))
        tick(rt, clock.now())
        work(rt)


def sent_per_minute(rt: Runtime) -> Counter[datetime]:
    with rt.db.session() as session:
        return Counter(at.replace(second=0, microsecond=0) for at in session.scalars(
            select(Message.sent_at).where(Message.status == "sent")))


def test_a_scheduled_campaign_freezes_and_sends_at_its_time(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns,
    smtp_server: SmtpServer, clock: VirtualClock,
) -> None:
    at = clock.now() + timedelta(hours=2)
    use_campaigns(newsletter=NEWSLETTER + f"send_at: {at.isoformat()}\n")
    add_contacts(smtp_rt, account.id, 3)
    campaign_id = start_campaign(smtp_rt, account.id, "newsletter")
    work(smtp_rt)
    status = status_of(smtp_rt, account.id, "newsletter")
    assert status is not None and (status.state, status.send_at, status.audience) == (
        "scheduled", at, None)

    clock.advance(timedelta(hours=1, minutes=59))
    tick(smtp_rt, clock.now())
    work(smtp_rt)
    assert smtp_server.messages == []
    add_contacts(smtp_rt, account.id, 2, prefix="late")  # before the time: in the audience

    clock.advance(timedelta(minutes=1))
    tick(smtp_rt, clock.now())
    work(smtp_rt)
    assert len(mailed(smtp_server)) == 5
    with smtp_rt.db.session() as session:
        run = session.get_one(CampaignRun, campaign_id)
        assert (run.state, run.started_at, run.audience) == ("sent", at, 5)


def test_a_redeploy_after_a_started_campaigns_time_is_accepted_and_a_new_late_one_not(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns, clock: VirtualClock,
) -> None:
    at = clock.now() + timedelta(hours=1)
    scheduled = NEWSLETTER + f"send_at: {at.isoformat()}\n"
    use_campaigns(newsletter=scheduled)
    add_contacts(smtp_rt, account.id, 2)
    start_campaign(smtp_rt, account.id, "newsletter")
    clock.advance(timedelta(hours=2))  # its time has rightly passed: it started
    use_campaigns(newsletter=scheduled)  # the same workspace deploys again
    with pytest.raises(WorkspaceError, match=r"campaigns/late.yaml:\d+: error: send_at"):
        use_campaigns(newsletter=scheduled, late=scheduled.replace("Newsletter", "Late"))


def test_a_throttled_campaign_sends_at_most_its_rate_each_minute(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns,
    smtp_server: SmtpServer, clock: VirtualClock,
) -> None:
    use_campaigns(newsletter=THROTTLED)
    add_contacts(smtp_rt, account.id, 35)
    start_campaign(smtp_rt, account.id, "newsletter")
    work(smtp_rt)
    assert len(smtp_server.messages) == 10
    # Ticks within the minute find its window spent: nothing more.
    clock.advance(timedelta(seconds=30))
    tick(smtp_rt, clock.now())
    work(smtp_rt)
    assert len(smtp_server.messages) == 10

    run_minutes(smtp_rt, clock, 4)

    assert len(mailed(smtp_server)) == 35 and set(mailed(smtp_server).values()) == {1}
    assert sorted(sent_per_minute(smtp_rt).values()) == [5, 10, 10, 10]
    status = status_of(smtp_rt, account.id, "newsletter")
    assert status is not None and status.state == "sent"


def test_send_rate_is_shared_by_every_campaign(
    make_runtime: MakeRuntime, smtp_rt: Runtime, account: AccountView,
    use_campaigns: UseCampaigns, smtp_server: SmtpServer, clock: VirtualClock,
) -> None:
    rt = make_runtime(mail_url=smtp_rt.settings.mail_url, send_rate="12/m")
    use_campaigns(newsletter=NEWSLETTER, offers=NEWSLETTER.replace("newsletter", "offers"))
    add_contacts(rt, account.id, 20)
    add_contacts(rt, account.id, 20, list_key="offers", prefix="offer")
    start_campaign(rt, account.id, "newsletter")
    start_campaign(rt, account.id, "offers")
    work(rt)
    assert len(smtp_server.messages) == 12

    run_minutes(rt, clock, 3)

    assert len(mailed(smtp_server)) == 40
    assert sorted(sent_per_minute(rt).values()) == [4, 12, 12, 12]


def test_the_scheduler_brings_back_an_advance_that_redis_lost(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns,
    smtp_server: SmtpServer, clock: VirtualClock,
) -> None:
    use_campaigns(newsletter=NEWSLETTER)
    add_contacts(smtp_rt, account.id, 4)
    start_campaign(smtp_rt, account.id, "newsletter")
    smtp_rt.redis.flushdb()  # a redeploy onto a fresh Redis: the queued advance is gone
    work(smtp_rt)
    assert smtp_server.messages == []

    report = tick(smtp_rt, clock.now())
    work(smtp_rt)

    assert report.campaigns_woken == 1
    assert len(mailed(smtp_server)) == 4
    assert tick(smtp_rt, clock.now()).campaigns_woken == 0  # sent: nothing to wake
