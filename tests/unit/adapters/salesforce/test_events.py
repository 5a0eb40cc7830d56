"""The hardened Outbound Message parser and the record normalizer, on Salesforce's own
message shape (fixtures) and hostile variants of it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.inbound import CONTACT_DELETED, CrmEvent, Ignored, Malformed
from adapters.salesforce.events import (
    MAX_NOTIFICATIONS,
    RecordEvent,
    SoapError,
    normalize_callout,
    normalize_record,
    parse_outbound,
)
from tests.unit.adapters.salesforce.fixtures import ORG_ID, fixture, many_notifications

NOW = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)


def test_a_contact_message_parses_into_its_notification() -> None:
    message = parse_outbound(fixture("outbound_contact"))
    assert (message.organization_id, message.action_id) == (ORG_ID, "04k5g000000XYZ1AAO")
    (n,) = message.notifications
    assert (n.id, n.sobject_type) == ("04l5g00000AbCdEAAV", "Contact")
    assert n.fields["Id"] == "0035g00000XyZ12AAF"
    assert n.fields["Email"] == "jo.doe@example.com"
    assert n.fields["HasOptedOutOfEmail"] == "false"


def test_a_lead_message_keeps_its_type() -> None:
    (n,) = parse_outbound(fixture("outbound_lead")).notifications
    assert n.sobject_type == "Lead" and n.fields["Company"] == "Initech"


def test_a_hundred_notifications_parse_and_a_hundred_and_one_are_refused() -> None:
    assert len(parse_outbound(many_notifications(MAX_NOTIFICATIONS)).notifications) == 100
    with pytest.raises(SoapError, match="101 notifications"):
        parse_outbound(many_notifications(MAX_NOTIFICATIONS + 1))


@pytest.mark.parametrize("name", ["entity_bomb", "external_dtd"])
def test_a_dtd_is_refused_before_anything_expands(name: str) -> None:
    started = time.monotonic()
    with pytest.raises(SoapError, match="DOCTYPE is not allowed"):
        parse_outbound(fixture(name))
    assert time.monotonic() - started < 1.0  # generous: it is refused at the DOCTYPE


def test_an_undeclared_entity_is_not_xml() -> None:
    body = fixture("outbound_contact").replace(b"jo.doe@example.com", b"&xxe;")
    with pytest.raises(SoapError, match="undefined entity"):
        parse_outbound(body)


def test_malformed_soap_names_the_line() -> None:
    with pytest.raises(SoapError, match=r"mismatched tag \(line 8"):
        parse_outbound(fixture("malformed_soap"))


@pytest.mark.parametrize(("old", "new", "message"), [
    (b"soapenv:Body", b"soapenv:Bod", "Envelope has no Body"),
    (b"http://soap.sforce.com/2005/09/outbound", b"urn:other", "Body has no notifications"),
    (b"00D5g000004ABCDEA4</", b"0015g000004ABCDEA4</", "not a Salesforce org id"),
    (b"<Id>04l5g00000AbCdEAAV</Id>", b"", "Notification has no Id"),
    (b"<Id>04l5g00000AbCdEAAV</Id>", b"<Id>nope</Id>", "is not a Salesforce id"),
    (b"<sf:Id>0035g00000XyZ12AAF</sf:Id>", b"", "no valid sf:Id"),
    (b' xsi:type="sf:Contact"', b"", "no xsi:type"),
    (b"<sf:FirstName>Jo</sf:FirstName>", b"<sf:FirstName>Jo</sf:FirstName><sf:FirstName>J"
     b"</sf:FirstName>", "'FirstName' twice"),
    (b"<sf:FirstName>Jo</sf:FirstName>", b"<FirstName>Jo</FirstName>", "not in the sObject"),
    (b"<sf:FirstName>Jo</sf:FirstName>", b"<sf:FirstName><sf:x/></sf:FirstName>",
     "has elements inside"),
])
def test_a_shape_salesforce_never_sends_is_refused_precisely(old: bytes, new: bytes,
                                                             message: str) -> None:
    body = fixture("outbound_contact").replace(old, new)
    with pytest.raises(SoapError, match=message):
        parse_outbound(body)


def test_not_a_soap_envelope() -> None:
    with pytest.raises(SoapError, match="expected Envelope"):
        parse_outbound(b"<html/>")
    with pytest.raises(SoapError, match="not well-formed"):
        parse_outbound(b"")


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(SoapError, match="nested more than"):
        parse_outbound(b"<a>" * 10_000 + b"</a>" * 10_000)


def test_a_nil_field_is_left_out() -> None:
    body = fixture("outbound_contact").replace(b"<sf:FirstName>Jo</sf:FirstName>",
                                               b'<sf:FirstName xsi:nil="true"/>')
    (n,) = parse_outbound(body).notifications
    assert "FirstName" not in n.fields


def _record(name: str, received_at: datetime = NOW) -> RecordEvent:
    (n,) = parse_outbound(fixture(name)).notifications
    event = normalize_record(n.fields, sobject_type=n.sobject_type, org_id=ORG_ID,
                             dedup_key=n.id, received_at=received_at,
                             created_fallback=received_at)
    assert isinstance(event, RecordEvent)
    return event


def test_a_contact_becomes_the_record_a_sync_would_read() -> None:
    event = _record("outbound_contact")
    record = event.record
    assert (event.dedup_key, event.org_id) == ("04l5g00000AbCdEAAV", ORG_ID)
    assert record.crm_id == "0035g00000XyZ12AAF" and record.email == "jo.doe@example.com"
    assert record.opted_out is False
    assert record.created_at == record.updated_at == datetime(2026, 12, 2, 6, tzinfo=UTC)
    assert event.occurred_at == record.updated_at
    assert "Id" not in record.properties
    assert record.properties["sobject_type"] == "Contact"
    assert record.properties["lastname"] == "Doe"


def test_a_lead_without_created_date_is_created_at_its_arrival() -> None:
    record = _record("outbound_lead").record
    assert record.opted_out is True and record.created_at == NOW
    assert record.properties["sobject_type"] == "Lead"


def test_other_sobjects_are_ignored_and_bad_dates_malformed() -> None:
    fields = {"Id": "0015000000Gv7qJAAR"}
    kwargs: dict[str, Any] = {"org_id": ORG_ID, "dedup_key": "k", "received_at": NOW,
                              "created_fallback": NOW}
    assert isinstance(normalize_record(fields, sobject_type="Account", **kwargs), Ignored)
    bad = normalize_record({**fields, "LastModifiedDate": "yesterday"}, sobject_type="Contact",
                           **kwargs)
    assert isinstance(bad, Malformed) and "LastModifiedDate" in bad.reason
    naive = normalize_record({**fields, "CreatedDate": "2026-12-02T06:00:00"},
                             sobject_type="Contact", **kwargs)
    assert isinstance(naive, Malformed) and "time zone" in naive.reason


def _callout(**event: object) -> RecordEvent | CrmEvent | Ignored | Malformed:
    base: dict[str, object] = {"id": "evt-1", "type": "contact.created",
                               "record": {"Id": "0035g00000XyZ12AAF", "Email": "a@example.com",
                                          "HasOptedOutOfEmail": True, "Score": 3, "Title": None}}
    return normalize_callout({**base, **event}, org_id=ORG_ID, received_at=NOW)


def test_a_callout_created_is_a_new_record() -> None:
    event = _callout()
    assert isinstance(event, RecordEvent)
    assert event.dedup_key == "callout:evt-1" and event.record.created_at == NOW
    assert event.record.opted_out is True
    # Field names lower-cased, as the mirror keeps them (FirstName is firstname).
    assert event.record.properties == {"email": "a@example.com", "hasoptedoutofemail": "true",
                                       "score": "3", "sobject_type": "Contact"}


def test_a_callout_changed_is_not_a_creation_unless_created_date_says() -> None:
    event = _callout(type="lead.changed", occurred_at="2026-12-02T06:59:00Z")
    assert isinstance(event, RecordEvent) and event.record.created_at is None
    assert event.occurred_at == datetime(2026, 12, 2, 6, 59, tzinfo=UTC)
    assert event.record.properties["sobject_type"] == "Lead"


def test_a_callout_deleted_is_a_deletion() -> None:
    event = _callout(type="contact.deleted")
    assert isinstance(event, CrmEvent) and event.kind == CONTACT_DELETED
    assert event.data == {"crm_id": "0035g00000XyZ12AAF", "privacy": False}


@pytest.mark.parametrize(("event", "reason"), [
    ({"id": ""}, "id is missing"),
    ({"id": "x" * 57}, "id is missing"),
    ({"type": 3}, "type is missing"),
    ({"record": []}, "record is missing"),
    ({"record": {"Id": "0035g00000XyZ12AAF", "Email": {"a": 1}}}, "not a field value"),
    ({"record": {"Id": "bad"}}, "Id is missing or not"),
    ({"occurred_at": 5}, "occurred_at"),
    ({"occurred_at": "soon"}, "occurred_at"),
])
def test_bad_callout_events_are_malformed(event: dict[str, object], reason: str) -> None:
    result = _callout(**event)
    assert isinstance(result, Malformed) and reason in result.reason


def test_unknown_callout_types_are_ignored() -> None:
    assert isinstance(_callout(type="opportunity.created"), Ignored)
    assert isinstance(normalize_callout([], org_id=ORG_ID, received_at=NOW), Malformed)
