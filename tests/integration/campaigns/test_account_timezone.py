"""A campaign's wall times are the account's: a `send_at` without an offset is read in the
account's timezone (without one, the deployment's TIMEZONE), and local_time's recipients
without a timezone of their own are due at that hour there. Real parts: the database,
Redis, SMTP, the scheduler ticking on the virtual clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from connector.clock import VirtualClock
from connector.models import CampaignRun, Contact, Message
from connector.runtime import Runtime
from connector.scheduler import tick
from connector.services.accounts import AccountView, set_identity
from connector.services.campaigns import start_campaign
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

NAIVE_MAY_DAY = NEWSLETTER + "send_at: 2026-05-01T09:00\n"


def in_zone(rt: Runtime, account_id: int, name: str) -> None:
    with rt.db.session() as session:
        set_identity(session, rt.vault, account_id, timezone=name)
    rt.workspaces.forget(account_id)


def tick_at(rt: Runtime, clock: VirtualClock, at: datetime) -> None:
    clock.advance(at - clock.now())
    tick(rt, clock.now())
    work(rt)


def test_a_naive_send_at_is_read_in_the_accounts_timezone_and_fires_then(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns,
    smtp_server: SmtpServer, clock: VirtualClock,
) -> None:
    in_zone(smtp_rt, account.id, "America/New_York")
    use_campaigns(newsletter=NAIVE_MAY_DAY)
    add_contacts(smtp_rt, account.id, 3)
    campaign_id = start_campaign(smtp_rt, account.id, "newsletter")
    work(smtp_rt)
    due = datetime(2026, 5, 1, 13, 0, tzinfo=UTC)  # 09:00 EDT (UTC-4)
    status = status_of(smtp_rt, account.id, "newsletter")
    assert status is not None and (status.state, status.send_at) == ("scheduled", due)

    tick_at(smtp_rt, clock, due - timedelta(minutes=1))
    assert smtp_server.messages == []  # 12:59 UTC: 09:00 in UTC has passed, not in New York
    tick_at(smtp_rt, clock, due)
    assert len(mailed(smtp_server)) == 3
    with smtp_rt.db.session() as session:
        run = session.get_one(CampaignRun, campaign_id)
        assert (run.state, run.started_at) == ("sent", due)


def test_without_a_timezone_of_its_own_the_account_has_the_deployments(
    make_runtime: MakeRuntime, smtp_rt: Runtime, account: AccountView,
    use_campaigns: UseCampaigns,
) -> None:
    tokyo = make_runtime(mail_url=smtp_rt.settings.mail_url, timezone="Asia/Tokyo")
    use_campaigns(newsletter=NAIVE_MAY_DAY)
    start_campaign(tokyo, account.id, "newsletter")
    status = status_of(tokyo, account.id, "newsletter")
    assert status is not None and status.send_at == datetime(2026, 5, 1, 0, 0, tzinfo=UTC)


def test_an_offset_wins_over_the_accounts_timezone(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns,
) -> None:
    in_zone(smtp_rt, account.id, "America/New_York")
    use_campaigns(newsletter=NEWSLETTER + "send_at: 2026-05-01T09:00+02:00\n")
    start_campaign(smtp_rt, account.id, "newsletter")
    status = status_of(smtp_rt, account.id, "newsletter")
    assert status is not None and status.send_at == datetime(2026, 5, 1, 7, 0, tzinfo=UTC)


def test_local_time_without_a_contact_timezone_is_the_accounts_hour_kept_from_the_start(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns, clock: VirtualClock,
) -> None:
    in_zone(smtp_rt, account.id, "America/New_York")
    use_campaigns(local=NEWSLETTER + 'local_time: "09:00"\n')
    plain = add_contacts(smtp_rt, account.id, 2, prefix="plain")
    odd = add_contacts(smtp_rt, account.id, 1, prefix="odd")
    berlin = add_contacts(smtp_rt, account.id, 1, prefix="berlin")
    with smtp_rt.db.session() as session:
        session.execute(update(Contact).where(Contact.id.in_(odd))
                        .values(timezone="Mars/Olympus_Mons"))  # no IANA zone
        session.execute(update(Contact).where(Contact.id.in_(berlin))
                        .values(timezone="Europe/Berlin"))
    start = clock.now()  # Monday 2026-01-05 09:00 UTC: 04:00 in New York, 10:00 in Berlin
    start_campaign(smtp_rt, account.id, "local")
    work(smtp_rt)
    # The account's zone is the campaign's from its start: changing it now moves nobody.
    in_zone(smtp_rt, account.id, "Asia/Tokyo")
    for _ in range(24 * 4):
        clock.advance(timedelta(minutes=15))
        tick(smtp_rt, clock.now())
        work(smtp_rt)

    with smtp_rt.db.session() as session:
        times = dict(session.execute(
            select(Message.contact_id, Message.sent_at).where(Message.status == "sent")).all())
    new_york_nine = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)  # 09:00 EST (UTC-5)
    assert {times[c] for c in plain + odd} == {new_york_nine}
    assert times[berlin[0]] == start + timedelta(hours=23)  # Tuesday 09:00 in Berlin
