"""A Salesforce Lead converted to a Contact, as the records a sync or an Outbound Message
carries (`merged_into` on the Lead's): its mirror row, history and enrollments follow it
to the Contact whichever record arrives first, and no flow step is sent twice. And the
CRM's bounce flag as a suppression that the CRM can lift."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from adapters.inbound import CONTACT_SYNCED
from adapters.port import CrmContact
from connector.clock import VirtualClock
from connector.models import Contact, Message, Suppression
from connector.runtime import Runtime
from connector.services.accounts import AccountView
from connector.services.crm_events import record_data
from tests.integration.flows.test_crm_events import deliver, enrollments, later
from tests.support.mail import outbox

LEAD, CONTACT = "00Q5g00000LeAd1EAB", "0035g00000CoNt1AAF"


def person(rt: Runtime, crm_id: str, email: str, **extra: Any) -> dict[str, Any]:
    now = rt.clock.now()
    record = CrmContact(crm_id=crm_id, email=email, opted_out=False, updated_at=now,
                        created_at=now, properties={"Email": email, "FirstName": "Lee"},
                        **extra)
    return record_data(record)


def rows(rt: Runtime) -> list[tuple[str | None, str | None, int | None]]:
    with rt.db.session() as session:
        return [(c.crm_id, c.email, c.merged_into_id)
                for c in session.scalars(select(Contact).order_by(Contact.id))]


def sent_to(rt: Runtime, address: str) -> int:
    return [m["To"] for m in outbox(rt)].count(address)


def test_a_converted_lead_takes_its_welcome_along_when_the_contact_comes_first(
    rt: Runtime, account: AccountView, clock: VirtualClock
) -> None:
    deliver(rt, account, CONTACT_SYNCED, **person(rt, LEAD, "lee@example.com"))
    assert sent_to(rt, "lee@example.com") == 1  # a new Lead is welcomed
    # Converted in Salesforce: the new Contact's message arrives, then the Lead's.
    deliver(rt, account, CONTACT_SYNCED, **person(rt, CONTACT, "lee@example.com"))
    deliver(rt, account, CONTACT_SYNCED,
            **person(rt, LEAD, "lee@example.com", merged_into=CONTACT))

    [(crm_id, email, merged)] = rows(rt)
    assert (crm_id, email, merged) == (CONTACT, "lee@example.com", None)
    with rt.db.session() as session:
        lee = session.scalar(select(Contact.id))
    assert lee is not None
    assert enrollments(rt, lee) == [("welcome", "active", None)]
    later(rt, clock, timedelta(days=2, minutes=5))  # the welcome's second email: once
    assert sent_to(rt, "lee@example.com") == 2


def test_a_converted_lead_joins_the_contact_that_arrives_after_it(
    rt: Runtime, account: AccountView
) -> None:
    deliver(rt, account, CONTACT_SYNCED, **person(rt, LEAD, "max@example.com"))
    deliver(rt, account, CONTACT_SYNCED,
            **person(rt, LEAD, "max@example.com", merged_into=CONTACT))
    assert rows(rt) == [(CONTACT, "max@example.com", None)]
    deliver(rt, account, CONTACT_SYNCED, **person(rt, CONTACT, "max@example.com"))
    # The same conversion read again (a reconciliation) changes nothing.
    deliver(rt, account, CONTACT_SYNCED,
            **person(rt, LEAD, "max@example.com", merged_into=CONTACT))
    assert rows(rt) == [(CONTACT, "max@example.com", None)]
    assert sent_to(rt, "max@example.com") == 1  # the Contact is not a second new person


def test_a_lead_converted_into_an_existing_contact_keeps_one_of_each_flow(
    rt: Runtime, account: AccountView, clock: VirtualClock
) -> None:
    deliver(rt, account, CONTACT_SYNCED, **person(rt, CONTACT, "kim@example.com"))
    deliver(rt, account, CONTACT_SYNCED, **person(rt, LEAD, "kim@work.example"))
    assert len(outbox(rt)) == 2  # two people as far as anyone knew

    deliver(rt, account, CONTACT_SYNCED,
            **person(rt, LEAD, "kim@work.example", merged_into=CONTACT))

    winner, tombstone = rows(rt)
    assert winner == (CONTACT, "kim@example.com", None)
    assert tombstone[0] == LEAD and tombstone[1] is None and tombstone[2] is not None
    with rt.db.session() as session:
        kim = session.scalar(select(Contact.id).where(Contact.crm_id == CONTACT))
        owners = set(session.scalars(select(Message.contact_id)))
    assert kim is not None
    assert owners == {kim}  # the Lead's email moved to the Contact's history
    assert enrollments(rt, kim) == [("welcome", "active", None),
                                       ("welcome", "exited", "merged")]
    later(rt, clock, timedelta(days=2, minutes=5))
    assert sent_to(rt, "kim@example.com") == 2 and sent_to(rt, "kim@work.example") == 1


def test_the_crm_bounce_flag_suppresses_until_the_crm_clears_it(
    rt: Runtime, account: AccountView
) -> None:
    deliver(rt, account, CONTACT_SYNCED, **person(rt, CONTACT, "bo@example.com",
                                                   bounced=True))
    assert outbox(rt) == []
    with rt.db.session() as session:
        assert session.scalars(select(Suppression.reason)).all() == ["bounced in the CRM"]

    # Opted out too: the opt-out is the reason shown; cleared, the bounce is again.
    deliver(rt, account, CONTACT_SYNCED, **{**person(rt, CONTACT, "bo@example.com",
                                                      bounced=True), "opted_out": True})
    with rt.db.session() as session:
        assert session.scalars(select(Suppression.reason)).all() == ["opted out in the CRM"]
    deliver(rt, account, CONTACT_SYNCED, **person(rt, CONTACT, "bo@example.com",
                                                   bounced=True))
    with rt.db.session() as session:
        assert session.scalars(select(Suppression.reason)).all() == ["bounced in the CRM"]

    deliver(rt, account, CONTACT_SYNCED, **person(rt, CONTACT, "bo@example.com"))
    with rt.db.session() as session:
        assert session.scalars(select(Suppression.reason)).all() == []


def test_clearing_the_crm_flags_never_lifts_an_unsubscribe(
    rt: Runtime, account: AccountView
) -> None:
    with rt.db.session() as session:
        session.add(Suppression(account_id=account.id, email="un@example.com",
                                reason="unsubscribed", created_at=rt.clock.now()))
    deliver(rt, account, CONTACT_SYNCED, **person(rt, CONTACT, "un@example.com"))
    with rt.db.session() as session:
        assert session.scalars(select(Suppression.reason)).all() == ["unsubscribed"]
    assert outbox(rt) == []
