"""Salesforce change notifications in: Outbound Messages (SOAP 1.1) parsed by a hardened
expat parser, and the records they carry normalized into `adapters.inbound` terms.

The parser refuses any DOCTYPE, entity declaration or external entity the moment expat
meets it (an entity bomb never expands: no DTD, no entities), and checks the SOAP shape
Salesforce sends (reference/salesforce.md): Envelope > Body > notifications with
OrganizationId, ActionId, ... and 1 to 100 Notification, each an Id and an sObject of
fields. Pure: bytes in, typed objects or a `SoapError` naming what is wrong out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.parsers import expat

from adapters.inbound import CONTACT_DELETED, CrmEvent, Ignored, Malformed
from adapters.port import CrmContact
from adapters.salesforce import person_flags, valid_org_id
from adapters.salesforce.fields import mirror_fields
from adapters.salesforce.ids import is_id

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOBJECT_NS = "urn:sobject.enterprise.soap.sforce.com"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
ACK = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    "<soapenv:Body><notificationsResponse xmlns=\"http://soap.sforce.com/2005/09/outbound\">"
    "<Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>"
)
MAX_NOTIFICATIONS = 100  # Salesforce's own limit per message
MAX_DEPTH = 8  # Envelope > Body > notifications > Notification > sObject > field
MAX_FIELDS = 800  # an sObject's fields: Salesforce's 800 custom fields at most
MAX_VALUE_CHARS = 131_072  # a Long Text Area's largest value
SUPPORTED_TYPES = frozenset({"Contact", "Lead"})
_SEP = "}"  # expat's namespace separator: "uri}local" cannot occur in a URI's tail


class SoapError(ValueError):
    """The body is not an Outbound Message Salesforce would send; the message says why."""


@dataclass(frozen=True)
class Notification:
    id: str
    sobject_type: str  # the xsi:type's local name: "Contact", "Lead", ...
    fields: dict[str, str]  # as Salesforce names them, nil fields left out


@dataclass(frozen=True)
class OutboundMessage:
    organization_id: str
    action_id: str
    notifications: list[Notification]


@dataclass(frozen=True)
class RecordEvent:
    """A Contact's or Lead's current fields, as a sync's read (`crm.contact.synced`)."""

    org_id: str
    dedup_key: str
    occurred_at: datetime
    record: CrmContact


@dataclass
class _Node:
    name: str  # "uri}local"
    attrs: dict[str, str]
    children: list[_Node] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    @property
    def local(self) -> str:
        return self.name.rpartition(_SEP)[2]

    @property
    def ns(self) -> str:
        return self.name.rpartition(_SEP)[0]


# ---- the hardened parser ------------------------------------------------------------


def parse_xml(body: bytes) -> _Node:
    """The document's root element, or SoapError: not XML, a DTD or an entity (refused as
    soon as it starts), too deep."""
    parser = expat.ParserCreate(namespace_separator=_SEP)
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[_Node] = []
    roots: list[_Node] = []

    def refuse_dtd(*_: Any) -> None:
        raise SoapError("a DOCTYPE is not allowed (no DTDs, no entities)")

    def refuse_entity(*_: Any) -> None:
        raise SoapError("an entity declaration is not allowed (no DTDs, no entities)")

    def refuse_external(*_: Any) -> int:
        raise SoapError("an external entity is not allowed (no DTDs, no entities)")

    def start(name: str, attrs: dict[str, str]) -> None:
        if len(stack) >= MAX_DEPTH:
            raise SoapError(f"elements are nested more than {MAX_DEPTH} deep")
        node = _Node(name, attrs)
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)

    def end(_: str) -> None:
        stack.pop()

    def text(data: str) -> None:
        if stack:
            stack[-1].text.append(data)

    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_entity
    parser.UnparsedEntityDeclHandler = refuse_entity
    parser.ExternalEntityRefHandler = refuse_external
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(body, True)
    except expat.ExpatError as exc:
        raise SoapError(f"body is not well-formed XML: {expat.errors.messages[exc.code]} "
                        f"(line {exc.lineno}, column {exc.offset})") from None
    except RecursionError:  # pragma: no cover - MAX_DEPTH stops it first
        raise SoapError("elements are nested too deeply") from None
    if not roots:
        raise SoapError("body has no XML element")
    return roots[0]


# ---- the SOAP shape -----------------------------------------------------------------


def parse_outbound(body: bytes) -> OutboundMessage:
    """An Outbound Message's organization, action and notifications, or SoapError."""
    envelope = parse_xml(body)
    _expect(envelope, SOAP_NS, "Envelope")
    soap_body = _one(envelope, SOAP_NS, "Body")
    notifications = _one(soap_body, OUTBOUND_NS, "notifications")
    org_id = _text(_one(notifications, OUTBOUND_NS, "OrganizationId"))
    if not valid_org_id(org_id):
        raise SoapError(f"OrganizationId {org_id[:40]!r} is not a Salesforce org id (00D...)")
    actions = _all(notifications, OUTBOUND_NS, "ActionId")
    action_id = _text(actions[0]) if actions else ""
    items = _all(notifications, OUTBOUND_NS, "Notification")
    if not items:
        raise SoapError("notifications has no Notification")
    if len(items) > MAX_NOTIFICATIONS:
        raise SoapError(f"{len(items)} notifications in one message "
                        f"(Salesforce sends at most {MAX_NOTIFICATIONS})")
    return OutboundMessage(org_id, action_id, [_notification(n) for n in items])


def _notification(node: _Node) -> Notification:
    notification_id = _text(_one(node, OUTBOUND_NS, "Id"))
    if not is_id(notification_id):
        raise SoapError(f"Notification Id {notification_id[:40]!r} is not a Salesforce id")
    sobject = _one(node, OUTBOUND_NS, "sObject")
    declared = sobject.attrs.get(XSI_NS + _SEP + "type", "")
    sobject_type = declared.rpartition(":")[2]
    if not sobject_type:
        raise SoapError(f"Notification {notification_id}: sObject has no xsi:type")
    if len(sobject.children) > MAX_FIELDS:
        raise SoapError(f"Notification {notification_id}: more than {MAX_FIELDS} fields")
    fields: dict[str, str] = {}
    for child in sobject.children:
        if child.ns != SOBJECT_NS:
            raise SoapError(f"Notification {notification_id}: field {child.local!r} is not "
                            f"in the sObject namespace {SOBJECT_NS}")
        if child.children:
            raise SoapError(f"Notification {notification_id}: field {child.local!r} is "
                            "not a value (it has elements inside)")
        if child.local in fields:
            raise SoapError(f"Notification {notification_id}: field {child.local!r} twice")
        if child.attrs.get(XSI_NS + _SEP + "nil") == "true":
            continue  # null: Salesforce leaves these out, but a nil is no value either
        value = "".join(child.text)
        if len(value) > MAX_VALUE_CHARS:
            raise SoapError(f"Notification {notification_id}: field {child.local!r} is "
                            f"longer than {MAX_VALUE_CHARS} characters")
        fields[child.local] = value
    if not is_id(fields.get("Id")):
        raise SoapError(f"Notification {notification_id}: the sObject has no valid sf:Id")
    return Notification(notification_id, sobject_type, fields)


def _expect(node: _Node, ns: str, local: str) -> None:
    if (node.ns, node.local) != (ns, local):
        raise SoapError(f"expected {local} in {ns}, found {node.local!r}"
                        + (f" in {node.ns}" if node.ns else " (no namespace)"))


def _all(node: _Node, ns: str, local: str) -> list[_Node]:
    return [c for c in node.children if c.ns == ns and c.local == local]


def _one(node: _Node, ns: str, local: str) -> _Node:
    found = _all(node, ns, local)
    if len(found) != 1:
        raise SoapError(f"{node.local} has {len(found) or 'no'} {local} "
                        f"(in {ns}); exactly one expected")
    return found[0]


def _text(node: _Node) -> str:
    if node.children:
        raise SoapError(f"{node.local} is not text (it has elements inside)")
    return "".join(node.text).strip()


# ---- normalizing a record -----------------------------------------------------------


def normalize_record(fields: Mapping[str, str], *, sobject_type: str, org_id: str,
                     dedup_key: str, received_at: datetime, created_fallback: datetime | None,
                     occurred_at: datetime | None = None) -> RecordEvent | Ignored | Malformed:
    """A Contact's or Lead's fields as the record a sync would have read: every field but
    Id in the data's properties (lower-cased: fields.py) plus `sobject_type`. `created_at` is
    CreatedDate when sent, else `created_fallback` (an Outbound Message passes its
    arrival: a record seen for the first time is a contact created)."""
    if sobject_type not in SUPPORTED_TYPES:
        return Ignored(org_id, sobject_type, "not a Contact or Lead")
    crm_id = fields.get("Id")
    if not is_id(crm_id):
        return Malformed(f"{sobject_type}: Id is missing or not a Salesforce id")
    try:
        updated_at = _datetime(fields.get("LastModifiedDate"), "LastModifiedDate")
        created_at = _datetime(fields.get("CreatedDate"), "CreatedDate") or created_fallback
    except ValueError as exc:
        return Malformed(f"{sobject_type} {crm_id}: {exc}")
    properties: dict[str, Any] = {**mirror_fields(fields), "sobject_type": sobject_type}
    email = (fields.get("Email") or "").strip() or None
    flags = person_flags(fields)
    record = CrmContact(
        crm_id=str(crm_id), email=email, properties=properties, opted_out=flags.opted_out,
        updated_at=updated_at, created_at=created_at, bounced=flags.bounced,
        merged_into=flags.converted_to,
    )
    return RecordEvent(org_id, dedup_key, occurred_at or updated_at or received_at, record)


def _datetime(value: str | None, name: str) -> datetime | None:
    """Salesforce's xsd:dateTime ("2026-12-02T06:15:55.000Z"), aware, in UTC."""
    if value is None or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{name} {value[:40]!r} is not a date and time") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{name} {value[:40]!r} has no time zone")
    return parsed.astimezone(UTC)


# ---- the JSON contract of POST /webhooks/salesforce/events ---------------------------

CALLOUT_KEY_PREFIX = "callout:"  # apart from Notification Ids in the same inbox source
MAX_CALLOUT_ID_CHARS = 64 - len(CALLOUT_KEY_PREFIX)
# type -> (sObject type, what happened)
CALLOUT_TYPES: dict[str, tuple[str, str]] = {
    f"{name.lower()}.{what}": (name, what)
    for name in ("Contact", "Lead") for what in ("created", "changed", "deleted")
}


def normalize_callout(raw: Any, *, org_id: str, received_at: datetime
                      ) -> RecordEvent | CrmEvent | Ignored | Malformed:
    """One event of a Flow HTTP callout's JSON (docs/salesforce-events.md): `created` and
    `changed` are the record as a sync read it (`created` counts as new, `changed` only
    when CreatedDate says so), `deleted` a deletion; other types are ignored."""
    if not isinstance(raw, dict):
        return Malformed(f"an event is a JSON object, not {type(raw).__name__}")
    event_id, type_ = raw.get("id"), raw.get("type")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_CALLOUT_ID_CHARS:
        return Malformed(f"id is missing or not text of 1 to {MAX_CALLOUT_ID_CHARS} characters")
    if not isinstance(type_, str):
        return Malformed(f"event {event_id}: type is missing or not text")
    if type_ not in CALLOUT_TYPES:
        return Ignored(org_id, type_[:100], "unknown event type")
    sobject_type, what = CALLOUT_TYPES[type_]
    try:
        fields = _callout_fields(raw.get("record"))
        occurred = raw.get("occurred_at")
        occurred_at = _datetime(occurred, "occurred_at") if isinstance(occurred, str) else None
        if occurred is not None and not isinstance(occurred, str):
            raise ValueError("occurred_at is not an ISO 8601 date and time")
    except ValueError as exc:
        return Malformed(f"event {event_id}: {exc}")
    key = CALLOUT_KEY_PREFIX + event_id
    if what == "deleted":
        if not is_id(fields.get("Id")):
            return Malformed(f"event {event_id}: record.Id is missing or not a Salesforce id")
        return CrmEvent(org_id, CONTACT_DELETED, key, occurred_at or received_at,
                        {"crm_id": fields["Id"], "privacy": False})
    created_fallback = (occurred_at or received_at) if what == "created" else None
    return normalize_record(fields, sobject_type=sobject_type, org_id=org_id, dedup_key=key,
                            received_at=received_at, created_fallback=created_fallback,
                            occurred_at=occurred_at)


def _callout_fields(record: Any) -> dict[str, str]:
    """A record's fields as an Outbound Message carries them: text, booleans as
    "true"/"false", nulls left out."""
    if not isinstance(record, dict):
        raise ValueError("record is missing or not an object")
    if len(record) > MAX_FIELDS:
        raise ValueError(f"record has more than {MAX_FIELDS} fields")
    fields: dict[str, str] = {}
    for name, value in record.items():
        if value is None:
            continue
        if isinstance(value, bool):
            fields[name] = "true" if value else "false"
        elif isinstance(value, int | float | str):
            text = str(value)
            if len(text) > MAX_VALUE_CHARS:
                raise ValueError(f"record.{name[:40]} is longer than {MAX_VALUE_CHARS} characters")
            fields[name] = text
        else:
            raise ValueError(f"record.{name[:40]} is an object or a list, not a field value")
    return fields
