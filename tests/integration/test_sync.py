"""Backfill and reconciliation (connector.services.sync) with the in-memory CRM at the edge:
pages into the inbox once however often they are read, a backfill that starts no flow, a
lost webhook healed by a reconciliation, the watermark and what stops it, the search cap,
and the scheduler queueing one reconciliation per due account."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from adapters.errors import DisconnectedError, RetryableCRMError
from adapters.inbound import CONTACT_CHANGED, CONTACT_IMPORTED, CONTACT_SYNCED
from adapters.memory import InMemoryCRM
from adapters.port import ContactPage
from connector.clock import VirtualClock
from connector.db import after_commit
from connector.models import Account, Contact, Enrollment, InboxEvent, SegmentMembership
from connector.queues import RECONCILE_CRM
from connector.runtime import Runtime
from connector.scheduler import tick
from connector.services.accounts import AccountView
from connector.services.credentials import DatabaseCredentialStore
from connector.services.inbox import record_inbox_event
from connector.services.processing import process_pending
from connector.services.sync import OVERLAP, SyncReport, backfill, reconcile
from tests.conftest import MakeAccount, MakeRuntime
from tests.support.jobs import work


class FailingCRM(InMemoryCRM):
    """A CRM whose reads fail with `error` once it is set (the edge, not our code): every
    list page, and the changes from the second page on (from the first with
    `fail_first_page`)."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(clock=clock.now, page_size=2)
        self.error: Exception | None = None
        self.fail_first_page = False

    def list_contacts(self, *, properties: Sequence[str], after: str | None = None
                      ) -> ContactPage:
        if self.error is not None:
            raise self.error
        return super().list_contacts(properties=properties, after=after)

    def changed_since(self, *, since: datetime, properties: Sequence[str],
                      after: str | None = None) -> ContactPage:
        if self.error is not None and (after is not None or self.fail_first_page):
            raise self.error
        return super().changed_since(since=since, properties=properties, after=after)


class CappedCRM(InMemoryCRM):
    """Search as HubSpot's: `changed_since` pages through `cap` results at most, then says
    there is no next page (the total still counts every match)."""

    def __init__(self, clock: VirtualClock, cap: int) -> None:
        super().__init__(clock=clock.now, page_size=2)
        self.cap = cap
        self.passes: list[datetime] = []

    def changed_since(self, *, since: datetime, properties: Sequence[str],
                      after: str | None = None) -> ContactPage:
        if after is None:
            self.passes.append(since)
        page = super().changed_since(since=since, properties=properties, after=after)
        if page.after is not None and int(page.after) >= self.cap:
            return ContactPage(page.contacts, after=None, total=page.total)
        return page


@pytest.fixture
def memory(clock: VirtualClock) -> FailingCRM:
    return FailingCRM(clock)


@pytest.fixture
def rt(make_runtime: MakeRuntime, memory: FailingCRM) -> Runtime:
    return make_runtime(crm={"hubspot": memory})


def seed(memory: InMemoryCRM, count: int, clock: VirtualClock, **properties: str
         ) -> list[str]:
    ids = []
    for _ in range(count):
        clock.advance(timedelta(seconds=1))
        n = len(memory.contacts)
        email = f"c{n}@example.com"
        ids.append(memory.add_contact(email, {"email": email, "firstname": f"C{n}",
                                              **properties}))
    return ids


def inbox(rt: Runtime) -> list[InboxEvent]:
    with rt.db.session() as session:
        return list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))


def watermark(rt: Runtime, account_id: int) -> datetime | None:
    with rt.db.session() as session:
        return session.get_one(Account, account_id).crm_synced_through


def enrollments(rt: Runtime) -> list[tuple[str, str | None]]:
    with rt.db.session() as session:
        rows = session.execute(
            select(Enrollment.flow_key, Contact.crm_id)
            .join(Contact, Contact.id == Enrollment.contact_id).order_by(Enrollment.id))
        return [(flow, crm_id) for flow, crm_id in rows]


def segments(rt: Runtime, crm_id: str) -> list[str]:
    with rt.db.session() as session:
        return list(session.scalars(
            select(SegmentMembership.segment_key)
            .join(Contact, Contact.id == SegmentMembership.contact_id)
            .where(Contact.crm_id == crm_id, SegmentMembership.left_at.is_(None))))


def test_a_backfill_stores_every_page_once_and_reports_its_progress(
    rt: Runtime, account: AccountView, memory: FailingCRM, clock: VirtualClock
) -> None:
    seed(memory, 5, clock)
    started = clock.now()
    seen: list[tuple[int, int, int | None]] = []

    def progress(report: SyncReport) -> None:
        seen.append((report.pages, report.contacts, report.total))

    report = backfill(rt, account.id, progress=progress)
    assert (report.outcome, report.pages, report.contacts, report.stored) == ("complete", 3, 5, 5)
    assert seen == [(1, 2, 5), (2, 4, 5), (3, 5, 5)]
    rows = inbox(rt)
    assert [r.kind for r in rows] == [CONTACT_IMPORTED] * 5
    assert [r.payload["email"] for r in rows] == [f"c{n}@example.com" for n in range(5)]
    assert all(r.dedup_key.startswith(f"import:{r.payload['crm_id']}:") for r in rows)
    assert rt.queues["events"].count == 1  # woken after commit, coalesced
    assert watermark(rt, account.id) == report.synced_through == started - OVERLAP

    again = backfill(rt, account.id)
    assert (again.outcome, again.contacts, again.stored) == ("complete", 5, 0)
    assert len(inbox(rt)) == 5


def test_a_backfill_fills_the_mirror_and_segments_and_starts_no_flow(
    rt: Runtime, account: AccountView, memory: FailingCRM, clock: VirtualClock
) -> None:
    (customer,) = seed(memory, 1, clock, lifecyclestage="customer")
    others = seed(memory, 2, clock)
    backfill(rt, account.id)
    process_pending(rt)
    work(rt)
    with rt.db.session() as session:
        mirrored = {str(c.crm_id): c for c in session.scalars(select(Contact))}
    assert sorted(mirrored) == sorted([customer, *others])
    assert mirrored[customer].properties["lifecyclestage"] == "customer"
    assert segments(rt, customer) == ["customers"]
    # Neither the welcome (contact.created) nor the spotlight (segment.entered) starts.
    assert enrollments(rt) == []
    assert all(e.processed_at is not None and e.error is None for e in inbox(rt))


def test_a_reconciliation_heals_a_lost_webhook_and_moves_the_watermark(
    rt: Runtime, account: AccountView, memory: FailingCRM, clock: VirtualClock
) -> None:
    ids = seed(memory, 3, clock)
    clock.advance(OVERLAP * 2)  # or the reconciliation reads these again (harmlessly)
    backfill(rt, account.id)
    process_pending(rt)
    before = watermark(rt, account.id)
    assert before is not None

    clock.advance(timedelta(hours=1))
    memory.update_contact(ids[1], {"lifecyclestage": "customer"})  # its webhook is lost
    clock.advance(timedelta(minutes=5))
    report = reconcile(rt, account.id)
    assert (report.outcome, report.contacts, report.stored) == ("complete", 1, 1)
    (synced,) = [e for e in inbox(rt) if e.kind == CONTACT_SYNCED]
    assert synced.payload["crm_id"] == ids[1]
    assert watermark(rt, account.id) == report.synced_through == clock.now() - OVERLAP > before

    process_pending(rt)
    work(rt)
    assert segments(rt, ids[1]) == ["customers"]
    assert enrollments(rt) == [("product-spotlight", ids[1])]

    # Nothing changed since: the next run reads nothing new and stores nothing.
    clock.advance(timedelta(minutes=20))
    quiet = reconcile(rt, account.id)
    assert (quiet.outcome, quiet.stored) == ("complete", 0)
    assert watermark(rt, account.id) == clock.now() - OVERLAP


def test_a_change_the_webhook_did_deliver_is_applied_twice_without_effect(
    rt: Runtime, account: AccountView, memory: FailingCRM, clock: VirtualClock
) -> None:
    (crm_id,) = seed(memory, 1, clock)
    backfill(rt, account.id)
    process_pending(rt)
    clock.advance(timedelta(hours=1))
    memory.update_contact(crm_id, {"lifecyclestage": "customer"})
    with rt.db.session() as session:  # this time the webhook arrives
        record_inbox_event(session, account_id=account.id, source="hubspot", dedup_key="w1",
                           kind=CONTACT_CHANGED, occurred_at=clock.now(), now=clock.now(),
                           payload={"crm_id": crm_id, "property": "lifecyclestage",
                                    "value": "customer"})
        after_commit(session, rt.work.wake_inbox)
    process_pending(rt)
    work(rt)
    assert enrollments(rt) == [("product-spotlight", crm_id)]

    clock.advance(timedelta(minutes=5))
    assert reconcile(rt, account.id).stored == 1
    process_pending(rt)
    work(rt)
    assert all(e.processed_at is not None and e.error is None for e in inbox(rt))
    assert enrollments(rt) == [("product-spotlight", crm_id)]
    assert segments(rt, crm_id) == ["customers"]


@pytest.mark.parametrize(
    ("error", "outcome"),
    [(RetryableCRMError("503 Service Unavailable"), "interrupted"),
     (DisconnectedError("the token was refused"), "disconnected")])
def test_a_crm_error_stops_the_run_and_keeps_the_watermark_past_what_was_stored(
    rt: Runtime, account: AccountView, memory: FailingCRM, clock: VirtualClock,
    error: Exception, outcome: str
) -> None:
    backfill(rt, account.id)
    before = watermark(rt, account.id)
    assert before is not None
    clock.advance(timedelta(hours=1))
    seed(memory, 3, clock)  # two pages of changes: the second read fails
    clock.advance(timedelta(hours=1))
    memory.error = error
    report = reconcile(rt, account.id)
    assert (report.outcome, report.pages, report.stored) == (outcome, 1, 2)
    assert report.reason == str(error)
    # The stored page moved the watermark to its newest change, not to the run's start.
    first_page_newest = max(e.occurred_at for e in inbox(rt))
    assert watermark(rt, account.id) == first_page_newest - OVERLAP
    assert before < first_page_newest - OVERLAP < clock.now() - OVERLAP

    assert backfill(rt, account.id).outcome == outcome  # list reads fail too
    memory.fail_first_page = True
    assert reconcile(rt, account.id).outcome == outcome
    assert watermark(rt, account.id) == first_page_newest - OVERLAP

    memory.fail_first_page = False

    memory.error = None
    healed = reconcile(rt, account.id)
    assert (healed.outcome, healed.stored) == ("complete", 1)


def test_a_disconnected_account_is_never_synced(
    rt: Runtime, account: AccountView, memory: FailingCRM, clock: VirtualClock
) -> None:
    seed(memory, 2, clock)
    DatabaseCredentialStore(rt.db, rt.vault, rt.clock).disconnect(account.id, "uninstalled")
    memory.error = RuntimeError("a disconnected account's CRM must not be read")
    for run in (backfill, reconcile):
        report = run(rt, account.id)
        assert (report.outcome, report.pages, report.stored) == ("disconnected", 0, 0)
    assert inbox(rt) == []
    assert watermark(rt, account.id) is None


def test_an_unknown_account_is_a_lookup_error(rt: Runtime) -> None:
    with pytest.raises(LookupError, match="no account 404"):
        backfill(rt, 404)


def test_a_reconciliation_goes_past_the_search_cap_from_the_last_change_read(
    make_runtime: MakeRuntime, make_account: MakeAccount, clock: VirtualClock
) -> None:
    capped = CappedCRM(clock, cap=4)
    rt = make_runtime(crm={"hubspot": capped})
    account = make_account()
    clock.advance(timedelta(minutes=5))
    ids = seed(capped, 7, clock)
    report = reconcile(rt, account.id)
    assert report.outcome == "complete"
    # Pass 1 reads 4 of 7 and stops at the cap; pass 2 starts a millisecond before the 4th.
    assert len(capped.passes) == 2
    assert capped.passes[1] == capped.contacts[ids[3]].updated_at - timedelta(milliseconds=1)
    assert report.contacts == 8 and report.stored == 7  # the 4th was read twice, stored once
    assert sorted(e.payload["crm_id"] for e in inbox(rt)) == sorted(ids)


def test_the_tick_queues_one_reconciliation_per_due_account(
    rt: Runtime, make_account: MakeAccount, memory: FailingCRM, clock: VirtualClock
) -> None:
    every = timedelta(seconds=rt.settings.crm_reconcile_every)
    due = make_account("1000001")
    gone = make_account("1000002")
    DatabaseCredentialStore(rt.db, rt.vault, rt.clock).disconnect(gone.id, "uninstalled")
    clock.advance(every + timedelta(seconds=1))
    fresh = make_account("1000003")  # connected less than an interval ago
    (crm_id,) = seed(memory, 1, clock)

    assert tick(rt, clock.now()).reconciles_queued == 1
    assert tick(rt, clock.now()).reconciles_queued == 0  # queued already: not again
    jobs = rt.queues[RECONCILE_CRM.queue].jobs
    assert [(j.func_name, j.args) for j in jobs] == [(RECONCILE_CRM.function, (due.id,))]

    work(rt)
    assert watermark(rt, due.id) == clock.now() - OVERLAP
    assert [e.payload["crm_id"] for e in inbox(rt) if e.account_id == due.id] == [crm_id]
    assert watermark(rt, gone.id) is None and watermark(rt, fresh.id) is None
    # Not due again until an interval has passed, when the fresh account is due too.
    assert tick(rt, clock.now()).reconciles_queued == 0
    clock.advance(every + timedelta(seconds=1))
    assert tick(rt, clock.now()).reconciles_queued == 2
