"""The account's frequency cap and campaigns: a recipient who has had the cap's worth of
marketing email in its window is skipped ("frequency cap") when their turn comes, unless
the campaign says `respect_frequency_cap: false`. Real parts: database, Redis, SMTP."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connector.models import Message
from connector.runtime import Runtime
from connector.services.accounts import AccountView, set_identity
from connector.services.campaigns import start_campaign
from connector.services.campaigns.cap import FrequencyCap
from tests.integration.campaigns.conftest import (
    NEWSLETTER,
    UseCampaigns,
    add_contacts,
    mailed,
    on_list,
    status_of,
)
from tests.support.jobs import work
from tests.support.smtp import SmtpServer

FIRST = NEWSLETTER.replace("audience:\n  list: newsletter", "audience:\n  list: early")
SECOND = NEWSLETTER


def cap_account(rt: Runtime, account: AccountView, cap: str) -> None:
    with rt.db.session() as session:
        set_identity(session, rt.vault, account.id, frequency_cap=cap)
    rt.workspaces.forget(account.id)


@pytest.mark.parametrize(("respect", "skipped"), [(True, 3), (False, 0)])
def test_recipients_at_the_cap_are_skipped_unless_the_campaign_ignores_it(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns,
    smtp_server: SmtpServer, respect: bool, skipped: int,
) -> None:
    use_campaigns(first=FIRST, second=SECOND + f"respect_frequency_cap: {str(respect).lower()}\n")
    cap_account(smtp_rt, account, "1/7d")
    contacts = add_contacts(smtp_rt, account.id, 5)
    on_list(smtp_rt, account.id, contacts[:3], "early")
    start_campaign(smtp_rt, account.id, "first")  # three of them get their one email
    work(smtp_rt)
    assert len(mailed(smtp_server)) == 3

    start_campaign(smtp_rt, account.id, "second")
    work(smtp_rt)

    counts = mailed(smtp_server)
    assert sum(counts.values()) == 3 + 5 - skipped
    status = status_of(smtp_rt, account.id, "second")
    assert status is not None and status.state == "sent"
    assert status.sent == 5 - skipped
    assert status.skipped == ({"frequency cap": skipped} if skipped else {})


def test_without_a_cap_nobody_is_skipped(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns,
    smtp_server: SmtpServer,
) -> None:
    use_campaigns(first=NEWSLETTER, second=SECOND)
    add_contacts(smtp_rt, account.id, 4)
    for key in ("first", "second"):
        start_campaign(smtp_rt, account.id, key)
        work(smtp_rt)
    assert set(mailed(smtp_server).values()) == {2}


def test_the_cap_counts_marketing_in_the_window_only(rt: Runtime, account: AccountView) -> None:
    """A transactional flow's email, a failed one and one older than the window count for
    nothing; a marketing flow's and a campaign's count."""
    now = rt.clock.now()
    receipt, newsletter, old, failed, capped = add_contacts(rt, account.id, 5)
    rows = [(receipt, "receipt", now, "sent"), (newsletter, "welcome", now, "sent"),
            (old, None, now - timedelta(days=8), "sent"), (failed, None, now, "failed"),
            (capped, None, now - timedelta(days=1), "pending")]
    with rt.db.session() as session:
        session.add_all(Message(account_id=account.id, contact_id=contact_id, flow_key=flow,
                                template="seasonal-sale", public_id=f"p{n}", status=status,
                                to_email=f"c{n}@example.com", created_at=at)
                        for n, (contact_id, flow, at, status) in enumerate(rows))
    cap = FrequencyCap(1, timedelta(days=7), frozenset({"receipt"}))
    with rt.db.session() as session:
        assert cap.reached(session, [row[0] for row in rows], now) == {newsletter, capped}
