"""The account's frequency cap and campaigns: a recipient who has had the cap's worth of
marketing email in its window is skipped ("frequency cap") when their turn comes, unless
the campaign says `respect_frequency_cap: false`. Real parts: database, Redis, SMTP."""

from __future__ import annotations

import pytest

from connector.runtime import Runtime
from connector.services.accounts import AccountView, set_identity
from connector.services.campaigns import start_campaign
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
