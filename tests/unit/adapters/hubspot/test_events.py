"""The HubSpot normalizer, one handler at a time, from the fixtures: each event becomes
the neutral CrmEvent the processing code switches on, or a reason it was set aside."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.hubspot.events import HANDLERS, IGNORED, normalize
from adapters.inbound import (
    CONTACT_CHANGED,
    CONTACT_CREATED,
    CONTACT_DELETED,
    CONTACT_MERGED,
    CONTACT_RESTORED,
    DEDUP_KEY_MAX,
    KINDS,
    CrmEvent,
    Ignored,
    Malformed,
)
from tests.unit.adapters.hubspot.fixtures import PORTAL, fixture, fixture_paths


def one(name: str, **changes: Any) -> CrmEvent:
    (raw,) = fixture(name)
    event = normalize({**raw, **changes})
    assert isinstance(event, CrmEvent), event
    return event


@pytest.mark.parametrize(
    ("name", "kind", "data"),
    [
        ("contact_creation", CONTACT_CREATED, {"crm_id": "1246978"}),
        ("object_creation", CONTACT_CREATED, {"crm_id": "1246990"}),
        ("contact_propertyChange", CONTACT_CHANGED,
         {"crm_id": "1246965", "property": "lifecyclestage", "value": "customer"}),
        ("object_propertyChange", CONTACT_CHANGED,
         {"crm_id": "1246990", "property": "hs_email_optout", "value": "true"}),
        ("contact_propertyChange_redacted", CONTACT_CHANGED,
         {"crm_id": "1246965", "property": "date_of_birth", "redacted": True}),
        ("contact_merge", CONTACT_MERGED, {"crm_id": "1246965", "merged": ["1246978"]}),
        # A merge that made a new object: the primary's id is gone too.
        ("object_merge", CONTACT_MERGED,
         {"crm_id": "1247001", "merged": ["1246978", "1246965", "1246990"]}),
        ("contact_deletion", CONTACT_DELETED, {"crm_id": "1246965", "privacy": False}),
        ("object_deletion", CONTACT_DELETED, {"crm_id": "1246990", "privacy": False}),
        ("contact_privacyDeletion", CONTACT_DELETED, {"crm_id": "1246965", "privacy": True}),
        ("contact_restore", CONTACT_RESTORED, {"crm_id": "1246965"}),
        ("object_restore", CONTACT_RESTORED, {"crm_id": "1246990"}),
    ],
)
def test_each_handled_fixture_becomes_its_kind(name: str, kind: str, data: dict[str, Any]
                                               ) -> None:
    event = one(name)
    assert (event.portal, event.kind, event.data) == (PORTAL, kind, data)
    assert event.occurred_at.tzinfo is UTC
    assert len(event.dedup_key) <= DEDUP_KEY_MAX


def test_occurred_at_is_hubspots_epoch_milliseconds_in_utc() -> None:
    assert one("contact_creation").occurred_at == datetime(2026, 1, 5, 8, 58, 1, tzinfo=UTC)
    assert one("contact_creation", occurredAt=1462216307945).occurred_at == datetime(
        2016, 5, 2, 19, 11, 47, 945000, tzinfo=UTC)


def test_a_redacted_value_is_never_a_value() -> None:
    event = one("contact_propertyChange_redacted")
    assert "value" not in event.data and event.data["redacted"] is True
    assert "redacted" not in one("contact_propertyChange").data


def test_a_cleared_property_is_a_null_or_empty_value() -> None:
    assert one("contact_propertyChange", propertyValue="").data["value"] == ""
    (raw,) = fixture("contact_propertyChange")
    del raw["propertyValue"]
    event = normalize(raw)
    assert isinstance(event, CrmEvent) and event.data["value"] is None


def test_merge_without_new_object_id_wins_with_the_primary() -> None:
    (raw,) = fixture("object_merge")
    del raw["newObjectId"]
    event = normalize(raw)
    assert isinstance(event, CrmEvent)
    assert event.data == {"crm_id": "1246990", "merged": ["1246978", "1246965"]}


def test_the_type_may_come_as_event_type() -> None:
    (raw,) = fixture("contact_creation")
    raw["eventType"] = raw.pop("subscriptionType")
    event = normalize(raw)
    assert isinstance(event, CrmEvent) and event.kind == CONTACT_CREATED


def test_ids_sent_as_digit_strings_are_the_same_ids() -> None:
    as_numbers = one("contact_creation")
    as_strings = one("contact_creation", portalId="62515", objectId="1246978")
    assert (as_strings.portal, as_strings.data, as_strings.dedup_key) == (
        as_numbers.portal, as_numbers.data, as_numbers.dedup_key)


def test_the_dedup_key_is_the_same_for_a_redelivery_and_differs_otherwise() -> None:
    first = one("contact_propertyChange")
    assert one("contact_propertyChange", attemptNumber=3).dedup_key == first.dedup_key
    # eventId is not unique by itself: the same id on another change is another event.
    for changes in ({"propertyName": "firstname"}, {"occurredAt": 1767603480001},
                    {"objectId": 1}, {"portalId": 1}, {"eventId": 1}):
        assert one("contact_propertyChange", **changes).dedup_key != first.dedup_key
    # A privacy deletion and the plain deletion HubSpot sends with it are both kept.
    deletion = one("contact_deletion")
    privacy = one("contact_privacyDeletion", eventId=3816279344,
                  occurredAt=1767603484000)
    assert privacy.dedup_key != deletion.dedup_key


@pytest.mark.parametrize(
    "name",
    ["contact_associationChange", "object_associationChange", "object_creation_company",
     "company_creation", "company_propertyChange", "company_deletion", "deal_creation",
     "deal_propertyChange", "deal_deletion"],
)
def test_known_unused_types_are_ignored_with_their_portal(name: str) -> None:
    (raw,) = fixture(name)
    event = normalize(raw)
    assert isinstance(event, Ignored), event
    assert event.portal == PORTAL and event.type == raw["subscriptionType"]


def test_object_events_of_other_objects_are_ignored_naming_the_object_type() -> None:
    (raw,) = fixture("object_propertyChange")
    event = normalize({**raw, "objectTypeId": "0-3"})
    assert isinstance(event, Ignored) and "0-3" in event.reason
    event = normalize({k: v for k, v in raw.items() if k != "objectTypeId"})
    assert isinstance(event, Ignored) and "None" in event.reason


def test_an_unknown_type_is_ignored_not_refused() -> None:
    (raw,) = fixture("contact_creation")
    event = normalize({**raw, "subscriptionType": "contact.somethingNew"})
    assert isinstance(event, Ignored) and "unknown" in event.reason


@pytest.mark.parametrize(
    ("name", "changes", "words"),
    [
        ("contact_creation", {"portalId": None}, "portalId"),
        ("contact_creation", {"portalId": -5}, "portalId"),
        ("contact_creation", {"portalId": True}, "portalId"),
        ("contact_creation", {"objectId": "12a"}, "objectId"),
        ("contact_creation", {"objectId": 0}, "objectId"),
        ("contact_creation", {"occurredAt": "yesterday"}, "occurredAt"),
        ("contact_creation", {"occurredAt": 1.5e12}, "occurredAt"),
        ("contact_creation", {"occurredAt": 10**20}, "occurredAt"),
        ("contact_creation", {"eventId": None}, "eventId"),
        ("contact_creation", {"subscriptionType": 7}, "subscriptionType"),
        ("contact_propertyChange", {"propertyName": ""}, "propertyName"),
        ("contact_propertyChange", {"propertyValue": {"a": 1}}, "propertyValue"),
        ("contact_propertyChange", {"propertyValue": "x" * 70_000}, "propertyValue"),
        ("contact_merge", {"mergedObjectIds": "1246978"}, "mergedObjectIds"),
        ("contact_merge", {"mergedObjectIds": [None]}, "mergedObjectIds"),
        ("contact_merge", {"primaryObjectId": None}, "primaryObjectId"),
        ("object_merge", {"newObjectId": "new"}, "newObjectId"),
        ("contact_associationChange", {"portalId": "x"}, "portalId"),
    ],
)
def test_structurally_bad_events_are_malformed_naming_the_field(
    name: str, changes: dict[str, Any], words: str
) -> None:
    (raw,) = fixture(name)
    event = normalize({**raw, **changes})
    assert isinstance(event, Malformed), event
    assert words in event.reason


@pytest.mark.parametrize("raw", [None, 1, "contact.creation", [], {}])
def test_what_is_not_an_event_object_is_malformed(raw: Any) -> None:
    assert isinstance(normalize(raw), Malformed)


def test_every_handler_yields_one_of_the_shared_kinds() -> None:
    kinds = set()
    for path in fixture_paths():
        for raw in fixture(path.stem):
            event = normalize(raw)
            if raw["subscriptionType"] in IGNORED:
                assert isinstance(event, Ignored)
            elif isinstance(event, CrmEvent):
                assert raw["subscriptionType"] in HANDLERS
                kinds.add(event.kind)
    # Every webhook kind is made by some fixture (syncs make the others).
    assert kinds == {CONTACT_CREATED, CONTACT_CHANGED, CONTACT_MERGED, CONTACT_DELETED,
                     CONTACT_RESTORED}
    assert kinds <= KINDS
