"""HubSpot webhook events -> `adapters.inbound.CrmEvent`: one small pure handler per
subscription type in a dispatch table (`HANDLERS`); `IGNORED` lists the types we know and
answer 2xx to without storing; `SUPPORTED` is derived from the table.

An event is one object of the JSON array HubSpot posts. Legacy types name the object
(`contact.creation`); the newer generic ones (`object.creation`) carry `objectTypeId`
and are contacts only when it is "0-1". HubSpot's own docs call the type key both
`subscriptionType` and `eventType`: either is accepted."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.inbound import (
    CONTACT_CHANGED,
    CONTACT_CREATED,
    CONTACT_DELETED,
    CONTACT_MERGED,
    CONTACT_RESTORED,
    CrmEvent,
    Ignored,
    Malformed,
    Normalized,
)

CONTACT_OBJECT_TYPE = "0-1"
# HubSpot's stand-in for a sensitive property's value: never a value of its own.
REDACTED = "REDACTED"
# HubSpot's longest property value (a multi-line text) is 65,536 characters.
MAX_VALUE_CHARS = 65_536
MAX_NAME_CHARS = 200
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, datetime's last day


class _Bad(ValueError):
    """A field is missing or not what HubSpot sends: the event is malformed."""


@dataclass(frozen=True)
class Envelope:
    """What every event carries, checked: the handler only adds its type's own fields."""

    raw: Mapping[str, Any]
    type: str
    portal: str
    crm_id: str
    occurred_at: datetime
    dedup_key: str

    def event(self, kind: str, data: dict[str, Any]) -> CrmEvent:
        return CrmEvent(self.portal, kind, self.dedup_key, self.occurred_at, data)


Handler = Callable[[Envelope], Normalized]


# ---- handlers ------------------------------------------------------------------------


def contact_created(e: Envelope) -> Normalized:
    return e.event(CONTACT_CREATED, {"crm_id": e.crm_id})


def contact_changed(e: Envelope) -> Normalized:
    name = _text(e.raw.get("propertyName"), "propertyName")
    value = e.raw.get("propertyValue")
    if isinstance(value, dict | list):
        raise _Bad("propertyValue is an object or a list, not a property value")
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        raise _Bad(f"propertyValue is longer than {MAX_VALUE_CHARS} characters")
    data: dict[str, Any] = {"crm_id": e.crm_id, "property": name}
    if value == REDACTED:
        data["redacted"] = True
    else:
        data["value"] = value
    return e.event(CONTACT_CHANGED, data)


def contact_merged(e: Envelope) -> Normalized:
    primary = _object_id(e.raw.get("primaryObjectId"), "primaryObjectId")
    new = e.raw.get("newObjectId")
    winner = primary if new is None else _object_id(new, "newObjectId")
    merged = e.raw.get("mergedObjectIds")
    if not isinstance(merged, list):
        raise _Bad("mergedObjectIds is not a list")
    losers = [_object_id(i, "mergedObjectIds[]") for i in merged]
    # "In some cases a new object is created from the result of a merge" (HubSpot): then
    # the primary's id is gone too.
    losers.append(primary)
    return e.event(CONTACT_MERGED, {"crm_id": winner, "merged": _unique(losers, winner)})


def contact_deleted(e: Envelope) -> Normalized:
    return e.event(CONTACT_DELETED, {"crm_id": e.crm_id, "privacy": False})


def contact_privacy_deleted(e: Envelope) -> Normalized:
    return e.event(CONTACT_DELETED, {"crm_id": e.crm_id, "privacy": True})


def contact_restored(e: Envelope) -> Normalized:
    return e.event(CONTACT_RESTORED, {"crm_id": e.crm_id})


def contacts_only(handler: Handler) -> Handler:
    """A generic `object.*` handler: contacts' events, other objects' ignored."""

    def handle(e: Envelope) -> Normalized:
        object_type = e.raw.get("objectTypeId")
        if object_type != CONTACT_OBJECT_TYPE:
            return Ignored(e.portal, e.type, f"objectTypeId {object_type!r} is not a contact")
        return handler(e)

    handle.__name__ = f"contacts_only_{handler.__name__}"
    return handle


HANDLERS: dict[str, Handler] = {
    "contact.creation": contact_created,
    "contact.propertyChange": contact_changed,
    "contact.merge": contact_merged,
    "contact.deletion": contact_deleted,
    "contact.privacyDeletion": contact_privacy_deleted,
    "contact.restore": contact_restored,
    "object.creation": contacts_only(contact_created),
    "object.propertyChange": contacts_only(contact_changed),
    "object.merge": contacts_only(contact_merged),
    "object.deletion": contacts_only(contact_deleted),
    "object.restore": contacts_only(contact_restored),
}
SUPPORTED = frozenset(HANDLERS)
# Known, well-formed, and of no use to drip flows: answered 2xx, not stored. Any other
# type we do not know is ignored too (HubSpot would retry a 4xx for a day), with a reason
# that says so.
IGNORED = frozenset(
    {
        "contact.associationChange",
        "object.associationChange",
        "company.creation",
        "company.propertyChange",
        "company.deletion",
        "deal.creation",
        "deal.propertyChange",
        "deal.deletion",
    }
)


def normalize(raw: Any) -> Normalized:
    """One event of a HubSpot webhook body, understood, ignored or malformed."""
    if not isinstance(raw, dict):
        return Malformed(f"an event is a JSON object, not {type(raw).__name__}")
    type_ = raw.get("subscriptionType", raw.get("eventType"))
    if not isinstance(type_, str) or not type_:
        return Malformed("no subscriptionType (or eventType)")
    try:
        portal = portal_of(raw)
        if type_ in IGNORED:
            return Ignored(portal, type_, "not used")
        handler = HANDLERS.get(type_)
        if handler is None:
            return Ignored(portal, type_, "unknown subscription type")
        return handler(_envelope(raw, type_, portal))
    except _Bad as exc:
        return Malformed(f"{type_[:MAX_NAME_CHARS]}: {exc}")


def portal_of(raw: Mapping[str, Any]) -> str:
    """The portal (HubSpot account id) an event belongs to, as `Account.external_id`."""
    return _object_id(raw.get("portalId"), "portalId")


def dedup_key(*, portal: str, type_: str, object_id: str, property_name: Any,
              occurred_ms: int, event_id: int | str) -> str:
    """HubSpot's eventId is not unique: the key is a digest of the tuple HubSpot's docs
    suggest (64 hex characters), so a redelivery maps to the same row."""
    parts = [portal, type_, object_id, property_name, occurred_ms, str(event_id)]
    text = json.dumps(parts, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _envelope(raw: Mapping[str, Any], type_: str, portal: str) -> Envelope:
    event_id = raw.get("eventId")
    if isinstance(event_id, bool) or not isinstance(event_id, int | str) or event_id == "":
        raise _Bad("eventId is missing or not a number")
    crm_id = _object_id(raw.get("objectId"), "objectId")
    occurred_ms = _epoch_ms(raw.get("occurredAt"))
    key = dedup_key(portal=portal, type_=type_, object_id=crm_id,
                    property_name=raw.get("propertyName"), occurred_ms=occurred_ms,
                    event_id=event_id)
    return Envelope(raw=raw, type=type_, portal=portal, crm_id=crm_id,
                    occurred_at=_EPOCH + timedelta(milliseconds=occurred_ms), dedup_key=key)


def _object_id(value: Any, name: str) -> str:
    """HubSpot ids are positive integers (sent as numbers; accepted as digit strings)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        return str(int(value))
    raise _Bad(f"{name} is missing or not a positive integer")


def _epoch_ms(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _MAX_EPOCH_MS:
        raise _Bad("occurredAt is missing or not milliseconds since the epoch")
    return value


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_NAME_CHARS:
        raise _Bad(f"{name} is missing or not a name")
    return value


def _unique(ids: list[str], winner: str) -> list[str]:
    return [i for i in dict.fromkeys(ids) if i != winner]
