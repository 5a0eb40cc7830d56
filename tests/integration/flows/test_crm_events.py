"""CRM contact events (the kinds every CRM's normalizer produces) through the inbox, the
events worker and the flows, with the in-memory CRM at the edge holding the records the
worker reads: creation, property changes, merges, deletions, restores, opt-outs, a CRM
that cannot be read for a while, and a disconnected account."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from adapters.errors import RetryableCRMError
from adapters.inbound import (
    CONTACT_CHANGED,
    CONTACT_CREATED,
    CONTACT_DELETED,
    CONTACT_MERGED,
    CONTACT_RESTORED,
    CONTACT_SYNCED,
)
from adapters.memory import InMemoryCRM
from adapters.port import CrmContact
from connector.clock import VirtualClock
from connector.db import after_commit
from connector.models import (
    Account,
    Contact,
    Enrollment,
    InboxEvent,
    Message,
    SegmentMembership,
    Suppression,
)
from connector.runtime import Runtime
from connector.scheduler import tick
from connector.services.accounts import AccountView
from connector.services.crm_events import record_data
from connector.services.inbox import record_inbox_event
from tests.conftest import MakeRuntime
from tests.support.jobs import work
from tests.support.mail import outbox

_keys = itertools.count(1)


def deliver(rt: Runtime, account: AccountView, kind: str, **data: Any) -> int:
    """Store one CRM event as a webhook receiver does, and run the workers."""
    with rt.db.session() as session:
        inbox_id, _ = record_inbox_event(
            session, account_id=account.id, source="hubspot", dedup_key=f"k{next(_keys)}",
            kind=kind, payload=data, occurred_at=rt.clock.now(), now=rt.clock.now(),
        )
        after_commit(session, rt.work.wake_inbox)
    work(rt)
    return inbox_id


def crm(rt: Runtime) -> InMemoryCRM:
    adapter = rt.crm_adapters["hubspot"]
    assert isinstance(adapter, InMemoryCRM)
    return adapter


def contact(rt: Runtime, crm_id: str) -> Contact:
    with rt.db.session() as session:
        found = session.scalar(select(Contact).where(Contact.crm_id == crm_id))
        assert found is not None
        session.expunge(found)
        return found


def enrollments(rt: Runtime, contact_id: int) -> list[tuple[str, str, str | None]]:
    with rt.db.session() as session:
        return [(e.flow_key, e.state, e.exit_reason) for e in session.scalars(
            select(Enrollment).where(Enrollment.contact_id == contact_id).order_by(Enrollment.id)
        )]


def later(rt: Runtime, clock: VirtualClock, delta: timedelta) -> None:
    clock.advance(delta)
    tick(rt, clock.now())
    work(rt)


def test_a_created_contact_is_read_from_the_crm_and_welcomed(
    rt: Runtime, account: AccountView
) -> None:
    crm_id = crm(rt).add_contact("ann@example.com",
                                 {"firstname": "Ann", "email": "ann@example.com"})
    deliver(rt, account, CONTACT_CREATED, crm_id=crm_id)

    ann = contact(rt, crm_id)
    assert ann.email == "ann@example.com"
    assert ann.properties["firstname"] == "Ann"
    assert enrollments(rt, ann.id) == [("welcome", "active", None)]
    [welcome] = outbox(rt)
    assert welcome["To"] == "ann@example.com"
    assert "Ann" in welcome.get_body(("plain",)).get_content()


def test_a_change_updates_the_mirror_and_segments_without_a_crm_read(
    rt: Runtime, account: AccountView
) -> None:
    crm_id = crm(rt).add_contact("bo@example.com", {"email": "bo@example.com"})
    deliver(rt, account, CONTACT_CREATED, crm_id=crm_id)
    crm(rt).contacts.clear()  # a read now would find nothing: the event's value must do
    deliver(rt, account, CONTACT_CHANGED, crm_id=crm_id, property="lifecyclestage",
            value="customer")

    bo = contact(rt, crm_id)
    assert bo.properties["lifecyclestage"] == "customer"
    with rt.db.session() as session:
        member = session.scalar(select(SegmentMembership).where(
            SegmentMembership.contact_id == bo.id, SegmentMembership.segment_key == "customers"))
        assert member is not None and member.left_at is None


def test_a_redacted_value_is_never_stored(rt: Runtime, account: AccountView) -> None:
    crm_id = crm(rt).add_contact("cy@example.com", {"email": "cy@example.com", "ssn": "1"})
    deliver(rt, account, CONTACT_CREATED, crm_id=crm_id)
    deliver(rt, account, CONTACT_CHANGED, crm_id=crm_id, property="ssn", redacted=True)
    assert "REDACTED" not in contact(rt, crm_id).properties.values()
    with rt.db.session() as session:
        assert session.scalar(select(InboxEvent.processed_at).order_by(InboxEvent.id.desc())
                              .limit(1)) is not None


def test_a_change_to_a_contact_never_seen_reads_it_whole_and_is_no_new_contact(
    rt: Runtime, account: AccountView
) -> None:
    crm_id = crm(rt).add_contact("di@example.com", {"email": "di@example.com",
                                                    "firstname": "Di"})
    deliver(rt, account, CONTACT_CHANGED, crm_id=crm_id, property="firstname", value="Di")
    di = contact(rt, crm_id)
    assert di.email == "di@example.com"
    assert enrollments(rt, di.id) == []  # an old contact, first seen now: no welcome
    assert outbox(rt) == []


class FlakyCRM(InMemoryCRM):
    """A CRM that answers 429 to the first `failures` reads (the edge, not our code)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def get_contacts(self, *, crm_ids: Sequence[str], properties: Sequence[str]
                     ) -> list[CrmContact]:
        if self.failures > 0:
            self.failures -= 1
            raise RetryableCRMError("429 Too Many Requests", retry_after=1)
        return super().get_contacts(crm_ids=crm_ids, properties=properties)


def test_a_crm_that_cannot_be_read_leaves_the_event_for_the_sweep(
    make_runtime: MakeRuntime, make_account: Any, clock: VirtualClock
) -> None:
    flaky = FlakyCRM(failures=2)
    rt = make_runtime(crm={"hubspot": flaky})
    account = make_account()
    crm_id = flaky.add_contact("ed@example.com", {"email": "ed@example.com"})
    inbox_id = deliver(rt, account, CONTACT_CREATED, crm_id=crm_id)
    with rt.db.session() as session:
        assert session.get_one(InboxEvent, inbox_id).processed_at is None
    assert outbox(rt) == []

    later(rt, clock, timedelta(minutes=2))  # the sweep: the CRM still says 429 once
    later(rt, clock, timedelta(minutes=2))
    with rt.db.session() as session:
        assert session.get_one(InboxEvent, inbox_id).processed_at is not None
    assert [m["To"] for m in outbox(rt)] == ["ed@example.com"]


def test_a_merge_keeps_one_contact_one_welcome_and_all_the_history(
    rt: Runtime, account: AccountView, clock: VirtualClock
) -> None:
    winner_id = crm(rt).add_contact("fay@example.com", {"email": "fay@example.com"})
    loser_id = crm(rt).add_contact("fay@work.example", {"email": "fay@work.example"})
    deliver(rt, account, CONTACT_CREATED, crm_id=winner_id)
    deliver(rt, account, CONTACT_CREATED, crm_id=loser_id)
    assert len(outbox(rt)) == 2  # two contacts, two welcomes, before anyone knew
    winner = contact(rt, winner_id)

    del crm(rt).contacts[loser_id]
    deliver(rt, account, CONTACT_MERGED, crm_id=winner_id, merged=[loser_id, winner_id])

    assert enrollments(rt, winner.id) == [("welcome", "active", None),
                                          ("welcome", "exited", "merged")]
    tombstone = contact(rt, loser_id)
    assert tombstone.merged_into_id == winner.id and tombstone.email is None
    with rt.db.session() as session:
        owners = set(session.scalars(select(Message.contact_id)))
    assert owners == {winner.id}
    later(rt, clock, timedelta(days=2, minutes=5))  # the welcome's second email: once
    assert [m["To"] for m in outbox(rt)].count("fay@example.com") == 2
    assert [m["To"] for m in outbox(rt)].count("fay@work.example") == 1

    # A late event for the merged-away id reaches the winner.
    deliver(rt, account, CONTACT_CHANGED, crm_id=loser_id, property="city", value="Oslo")
    assert contact(rt, winner_id).properties["city"] == "Oslo"


def test_deletion_stops_the_flows_and_erases_personal_data_but_keeps_the_counts(
    rt: Runtime, account: AccountView, clock: VirtualClock
) -> None:
    crm_id = crm(rt).add_contact("gus@example.com", {"email": "gus@example.com",
                                                     "firstname": "Gus"})
    deliver(rt, account, CONTACT_CREATED, crm_id=crm_id)
    gus = contact(rt, crm_id)
    deliver(rt, account, CONTACT_DELETED, crm_id=crm_id, privacy=False)

    erased = contact(rt, crm_id)
    assert erased.deleted_at is not None
    assert (erased.email, erased.properties) == (None, {})
    assert enrollments(rt, gus.id) == [("welcome", "exited", "contact deleted in the CRM")]
    with rt.db.session() as session:
        messages = session.scalars(select(Message).where(Message.contact_id == gus.id)).all()
        assert [(m.status, m.to_email) for m in messages] == [("sent", "")]
    later(rt, clock, timedelta(days=6))
    assert len(outbox(rt)) == 1  # nothing after the deletion

    # A property change arriving late does not bring the data back; a restore does.
    deliver(rt, account, CONTACT_CHANGED, crm_id=crm_id, property="firstname", value="G")
    assert contact(rt, crm_id).properties == {}
    deliver(rt, account, CONTACT_RESTORED, crm_id=crm_id)
    restored = contact(rt, crm_id)
    assert restored.deleted_at is None
    assert (restored.email, restored.properties["firstname"]) == ("gus@example.com", "Gus")


def test_a_privacy_deletion_also_forgets_the_address(
    rt: Runtime, account: AccountView
) -> None:
    crm_id = crm(rt).add_contact("hal@example.com", {"email": "hal@example.com"})
    deliver(rt, account, CONTACT_CREATED, crm_id=crm_id)
    with rt.db.session() as session:
        session.add(Suppression(account_id=account.id, email="hal@example.com",
                                reason="unsubscribed", created_at=rt.clock.now()))
    deliver(rt, account, CONTACT_DELETED, crm_id=crm_id, privacy=True)
    with rt.db.session() as session:
        assert session.scalars(select(Suppression.email)).all() == []
        assert session.scalars(select(Message.subject)).all() == [None]


def test_the_crm_opt_out_is_honoured_and_lifted_with_the_crm(
    rt: Runtime, account: AccountView
) -> None:
    crm_id = crm(rt).add_contact("ida@example.com", {"email": "ida@example.com"},
                                 opted_out=True)
    deliver(rt, account, CONTACT_CREATED, crm_id=crm_id)
    assert outbox(rt) == []
    with rt.db.session() as session:
        assert session.scalars(select(Suppression.reason)).all() == ["opted out in the CRM"]

    crm(rt).contacts[crm_id].opted_out = False  # opted in again in the CRM; a sync reads it
    [record] = crm(rt).get_contacts(crm_ids=[crm_id], properties=["email"])
    deliver(rt, account, CONTACT_SYNCED, **record_data(record))
    with rt.db.session() as session:
        assert session.scalars(select(Suppression.reason)).all() == []


@pytest.mark.parametrize("status", ["disconnected"])
def test_a_disconnected_account_starts_nothing_and_reads_nothing(
    rt: Runtime, account: AccountView, status: str
) -> None:
    with rt.db.session() as session:
        session.get_one(Account, account.id).status = status
    crm_id = crm(rt).add_contact("jo@example.com", {"email": "jo@example.com"})
    inbox_id = deliver(rt, account, CONTACT_CREATED, crm_id=crm_id)
    with rt.db.session() as session:
        event = session.get_one(InboxEvent, inbox_id)
        assert event.processed_at is not None and event.error == "the account is not connected"
    assert outbox(rt) == []
