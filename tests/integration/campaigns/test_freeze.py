"""The audience freeze on the test's database (SQLite, and PostgreSQL in the -m database
pass): keyset chunks that carry the last contact forward, the audience counted exactly,
and a freeze cut short mid-way that goes on where it stopped."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, update

from connector.models import CampaignRecipient, CampaignRun, Contact
from connector.runtime import Runtime
from connector.services.accounts import AccountView
from connector.services.campaigns import start as start_module
from connector.services.campaigns import start_campaign
from connector.services.campaigns.start import freeze_audience
from tests.integration.campaigns.conftest import NEWSLETTER, UseCampaigns, add_contacts

CHUNK = 4


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """A few contacts span several chunks, on either database."""
    monkeypatch.setattr(start_module, "FREEZE_CHUNK", CHUNK)
    monkeypatch.setattr(start_module, "FREEZE_CHUNK_POSTGRES", CHUNK)


class Statements:
    """The SQL the engine runs, as text; `fail_at` makes the n-th recipients INSERT
    (1-based) fail inside the database call, as a crash mid-chunk would: its transaction
    rolls back."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.fail_at: int | None = None

    def inserts(self) -> int:
        return sum("INSERT INTO campaign_recipients" in s for s in self.seen)

    def lookups(self) -> int:
        return sum("max(campaign_recipients.contact_id)" in s for s in self.seen)

    def before(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.seen.append(statement)
        if "INSERT INTO campaign_recipients" in statement and self.inserts() == self.fail_at:
            raise RuntimeError("worker killed mid-freeze")


@pytest.fixture
def statements(smtp_rt: Runtime) -> Iterator[Statements]:
    seen = Statements()
    event.listen(smtp_rt.db.engine, "before_cursor_execute", seen.before)
    yield seen
    event.remove(smtp_rt.db.engine, "before_cursor_execute", seen.before)


def sending_unfrozen(rt: Runtime, account_id: int, key: str) -> int:
    """A campaign whose sending started and whose audience is not frozen yet: what
    freeze_audience finds (scheduled first, so start_campaign freezes nothing)."""
    campaign_id = start_campaign(rt, account_id, key, at=rt.clock.now() + timedelta(days=1))
    with rt.db.session() as session:
        session.execute(update(CampaignRun).where(CampaignRun.id == campaign_id)
                        .values(state="sending", started_at=rt.clock.now()))
    return campaign_id


def frozen(rt: Runtime, campaign_id: int) -> list[int]:
    with rt.db.session() as session:
        return list(session.scalars(select(CampaignRecipient.contact_id).where(
            CampaignRecipient.campaign_id == campaign_id).order_by(CampaignRecipient.contact_id)))


def audience_size(rt: Runtime, campaign_id: int) -> int | None:
    with rt.db.session() as session:
        return session.scalar(select(CampaignRun.audience).where(CampaignRun.id == campaign_id))


@pytest.mark.parametrize("members", [10, 2 * CHUNK, 0])
def test_a_freeze_in_chunks_keeps_each_member_once_and_counts_them(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns,
    statements: Statements, members: int,
) -> None:
    use_campaigns(newsletter=NEWSLETTER)
    ids = add_contacts(smtp_rt, account.id, members + 1) if members else []
    if ids:  # a member deleted before the start is not in the audience
        with smtp_rt.db.session() as session:
            session.execute(update(Contact).where(Contact.id == ids.pop())
                            .values(deleted_at=smtp_rt.clock.now()))
    campaign_id = sending_unfrozen(smtp_rt, account.id, "newsletter")
    statements.seen.clear()

    assert freeze_audience(smtp_rt, campaign_id) == members

    assert frozen(smtp_rt, campaign_id) == sorted(ids)
    assert audience_size(smtp_rt, campaign_id) == members
    # One lookup of where a freeze stopped, then each chunk carries its last id forward;
    # a short chunk ends it (a full last chunk takes one more, empty, INSERT).
    assert statements.lookups() == 1
    assert statements.inserts() == members // CHUNK + 1
    assert freeze_audience(smtp_rt, campaign_id) == members  # frozen: kept as it is
    assert statements.inserts() == members // CHUNK + 1


def test_a_freeze_cut_short_goes_on_after_the_last_contact_it_inserted(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns,
    statements: Statements,
) -> None:
    use_campaigns(newsletter=NEWSLETTER)
    ids = add_contacts(smtp_rt, account.id, 3 * CHUNK + 2)
    campaign_id = sending_unfrozen(smtp_rt, account.id, "newsletter")
    statements.fail_at = 3
    with pytest.raises(RuntimeError, match="killed mid-freeze"):
        freeze_audience(smtp_rt, campaign_id)
    assert frozen(smtp_rt, campaign_id) == ids[:2 * CHUNK]  # two chunks committed
    assert audience_size(smtp_rt, campaign_id) is None
    statements.fail_at = None
    statements.seen.clear()

    assert freeze_audience(smtp_rt, campaign_id) == len(ids)

    assert frozen(smtp_rt, campaign_id) == ids
    assert audience_size(smtp_rt, campaign_id) == len(ids)
    assert (statements.lookups(), statements.inserts()) == (1, 2)  # the rest: 4, then 2


def test_a_freeze_cut_short_after_its_last_chunk_counts_what_it_had_inserted(
    smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns,
    statements: Statements,
) -> None:
    use_campaigns(newsletter=NEWSLETTER)
    ids = add_contacts(smtp_rt, account.id, CHUNK + 1)
    campaign_id = sending_unfrozen(smtp_rt, account.id, "newsletter")
    with smtp_rt.db.session() as session:  # killed before the audience was written
        session.add_all(CampaignRecipient(campaign_id=campaign_id, contact_id=i, position=i,
                                          state="waiting") for i in ids)

    assert freeze_audience(smtp_rt, campaign_id) == len(ids)
    assert frozen(smtp_rt, campaign_id) == ids
    assert audience_size(smtp_rt, campaign_id) == len(ids)
