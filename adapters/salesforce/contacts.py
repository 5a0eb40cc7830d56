"""Reading the people of an org: Contacts and Leads (an id's prefix says which: 003 a
Contact, 00Q a Lead) by id in SOQL chunks, the full list through query paging (backfill),
and what changed since a moment (reconciliation), mapped to CrmContact.

Properties are the fields' names lower-cased (`FirstName` is `firstname`: fields.py);
only the asked-for fields each object has are selected.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from simple_salesforce import Salesforce, format_soql

from adapters.port import ContactPage, CrmContact
from adapters.salesforce import (
    BOUNCED_PROPERTY,
    CONVERTED,
    CONVERTED_CONTACT,
    OPT_OUT_PROPERTY,
    person_flags,
)
from adapters.salesforce.client import Call, SalesforceClient
from adapters.salesforce.fields import FieldCatalog, mirror_fields

PEOPLE = ("Contact", "Lead")
PREFIXES = {"003": "Contact", "00Q": "Lead"}
REQUIRED_FIELDS = ("Id", "Email", OPT_OUT_PROPERTY, BOUNCED_PROPERTY, "CreatedDate",
                   "LastModifiedDate")
LEAD_FIELDS = (CONVERTED, CONVERTED_CONTACT)
ID_CHUNK = 200  # ids per SOQL `IN`: well under SOQL's 100,000-character statement limit
CHANGED_PAGE_SIZE = 200

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def sobject_of(crm_id: str) -> str | None:
    """Contact or Lead, by the id's key prefix; None for anything else."""
    return PREFIXES.get(crm_id[:3]) if len(crm_id) in (15, 18) else None


def fields_for(catalog: FieldCatalog, sobject: str, properties: Sequence[str]) -> list[str]:
    """The SELECT list: ours, then each of the caller's fields the object has."""
    required = [*REQUIRED_FIELDS, *(LEAD_FIELDS if sobject == "Lead" else ())]
    return catalog.select(sobject, required, properties)


def read_contacts(client: SalesforceClient, catalog: FieldCatalog, crm_ids: Sequence[str],
                  properties: Sequence[str]) -> list[CrmContact]:
    """The existing Contacts and Leads among `crm_ids`; other or unknown ids are left out."""
    by_type: dict[str, list[str]] = {}
    for crm_id in dict.fromkeys(crm_ids):
        sobject = sobject_of(crm_id)
        if sobject is not None:
            by_type.setdefault(sobject, []).append(crm_id)
    found: list[CrmContact] = []
    for sobject, ids in by_type.items():
        names = fields_for(catalog, sobject, properties)
        for chunk in chunks(ids, ID_CHUNK):
            soql = format_soql(f"SELECT {', '.join(names)} FROM {sobject} WHERE Id IN {{ids}}",
                               ids=list(chunk))
            found.extend(to_contact(r) for r in query_all(client, soql))
    return found


def ids_by_email(client: SalesforceClient, emails: Sequence[str]) -> dict[str, str]:
    """Record ids keyed by lower-cased email: a Contact wins over an unconverted Lead."""
    unique = list(dict.fromkeys(e.strip().lower() for e in emails if e.strip()))
    found: dict[str, str] = {}
    for sobject in ("Lead", "Contact"):  # Contacts last, so they win
        extra = " AND IsConverted = false" if sobject == "Lead" else ""
        for chunk in chunks(unique, ID_CHUNK):
            soql = format_soql(f"SELECT Id, Email FROM {sobject} WHERE Email IN {{emails}}"
                               + extra, emails=list(chunk))
            for record in query_all(client, soql):
                if record.get("Email"):
                    found[str(record["Email"]).lower()] = str(record["Id"])
    return found


def list_page(client: SalesforceClient, catalog: FieldCatalog, properties: Sequence[str],
              after: str | None) -> ContactPage:
    """Every Contact, then every unconverted Lead, a query batch at a time. `after` is
    "<object> <nextRecordsUrl>" within an object, or "<object>" to start the next one."""
    sobject, _, next_url = (after or PEOPLE[0]).partition(" ")
    if sobject not in PEOPLE:
        raise ValueError(f"not a Salesforce list cursor: {after!r}")
    if next_url:
        data = client.call("list contacts", more(next_url))
    else:
        names = fields_for(catalog, sobject, properties)
        extra = " WHERE IsConverted = false" if sobject == "Lead" else ""
        soql = f"SELECT {', '.join(names)} FROM {sobject}{extra}"
        data = client.call("list contacts", lambda sf, timeout: sf.query(soql, timeout=timeout))
    records = [to_contact(r) for r in data.get("records") or []]
    if not data.get("done", True) and data.get("nextRecordsUrl"):
        return ContactPage(records, after=f"{sobject} {data['nextRecordsUrl']}")
    following = PEOPLE.index(sobject) + 1
    return ContactPage(records, after=PEOPLE[following] if following < len(PEOPLE) else None)


def changed_page(client: SalesforceClient, catalog: FieldCatalog, since: datetime,
                 properties: Sequence[str], after: str | None) -> ContactPage:
    """One page of Contacts and Leads modified after `since`, oldest change first across
    both. Keyset paging: `after` is "<last LastModifiedDate>|<ids at that instant>", the
    next page reads from that instant on (`>=`) and leaves those ids out, so records that
    share a timestamp are neither skipped nor read twice."""
    if since.tzinfo is None:
        raise ValueError("changed_since needs a timezone-aware datetime")
    if after:
        stamp, _, seen = after.partition("|")
        moment, skip, op = _parse_time(stamp), set(filter(None, seen.split(","))), ">="
        if moment is None:
            raise ValueError(f"not a Salesforce change cursor: {after!r}")
    else:
        moment, skip, op = since, set(), ">"
    limit = CHANGED_PAGE_SIZE + len(skip)
    rows: list[dict[str, Any]] = []
    for sobject in PEOPLE:
        names = fields_for(catalog, sobject, properties)
        soql = format_soql(f"SELECT {', '.join(names)} FROM {sobject} WHERE LastModifiedDate "
                           f"{op} {{:literal}} ORDER BY LastModifiedDate LIMIT {limit}",
                           soql_datetime(moment))
        rows += [r for r in query_all(client, soql) if r["Id"] not in skip]
    rows.sort(key=lambda r: _parse_time(r.get("LastModifiedDate")) or since)
    page = [to_contact(r) for r in rows[:CHANGED_PAGE_SIZE]]
    if len(rows) <= CHANGED_PAGE_SIZE:
        return ContactPage(page, after=None)
    last = page[-1].updated_at or since
    at_last = {c.crm_id for c in page if c.updated_at == last}
    if after and moment == last:
        at_last |= skip
    return ContactPage(page, after=f"{soql_datetime(last)}|{','.join(sorted(at_last))}")


def query_all(client: SalesforceClient, soql: str) -> list[dict[str, Any]]:
    """Every record of a query, following nextRecordsUrl (each page its own call)."""
    def first(sf: Salesforce, timeout: float) -> Any:
        return sf.query(soql, timeout=timeout)
    data = client.call("query", first)
    records = list(data.get("records") or [])
    while not data.get("done", True) and data.get("nextRecordsUrl"):
        data = client.call("query", more(str(data["nextRecordsUrl"])))
        records += data.get("records") or []
    return records


def more(next_url: str) -> Call:
    """The call that reads the next batch of a query."""
    def call(sf: Salesforce, timeout: float) -> Any:
        return sf.query_more(next_url, identifier_is_url=True, timeout=timeout)
    return call


def to_contact(record: dict[str, Any]) -> CrmContact:
    email = record.get("Email")
    flags = person_flags(record)
    return CrmContact(
        crm_id=str(record["Id"]),
        email=str(email) if email else None,
        properties=mirror_fields(record),
        opted_out=flags.opted_out,
        updated_at=_parse_time(record.get("LastModifiedDate")),
        created_at=_parse_time(record.get("CreatedDate")),
        bounced=flags.bounced,
        merged_into=flags.converted_to,
    )


def soql_datetime(moment: datetime) -> str:
    """A SOQL datetime literal: UTC, milliseconds (Salesforce's precision), Z."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]  # Salesforce's +0000
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
