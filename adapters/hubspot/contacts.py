"""Reading contacts: batch read by id (100 a call), the full list in pages (backfill), and
what changed since a moment through search (reconciliation), mapped to CrmContact."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from adapters.hubspot import OPT_OUT_PROPERTY
from adapters.hubspot.client import HubSpotClient, Reply, SdkApis, SdkCall
from adapters.port import ContactPage, CrmContact

# Every contact read asks for these: the address, the CRM's do-not-email flag, the change
# time (CrmContact.updated_at).
REQUIRED_PROPERTIES = ("email", OPT_OUT_PROPERTY, "lastmodifieddate")
REDACTED = "REDACTED"  # HubSpot's stand-in for a sensitive value we may not read
BATCH_SIZE = 100
LIST_PAGE_SIZE = 100
SEARCH_PAGE_SIZE = 200
SEARCH_MAX_RESULTS = 10_000  # search never pages past this many results

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def wanted(properties: Sequence[str]) -> list[str]:
    return list(dict.fromkeys([*properties, *REQUIRED_PROPERTIES]))


def read_contacts(client: HubSpotClient, crm_ids: Sequence[str], properties: Sequence[str]
                  ) -> list[CrmContact]:
    """The existing contacts among `crm_ids`; unknown ids are left out (HubSpot's 207)."""
    found: list[CrmContact] = []
    names = wanted(properties)
    for chunk in chunks(list(dict.fromkeys(crm_ids)), BATCH_SIZE):
        body = {"properties": names, "inputs": [{"id": str(i)} for i in chunk]}
        reply = client.sdk("read contacts", _batch_read(body))
        found.extend(to_contact(record) for record in _results(reply))
    return found


def ids_by_email(client: HubSpotClient, emails: Sequence[str]) -> dict[str, str]:
    """Contact ids keyed by lower-cased email, for the addresses HubSpot knows."""
    found: dict[str, str] = {}
    unique = list(dict.fromkeys(e.strip().lower() for e in emails))
    for chunk in chunks(unique, BATCH_SIZE):
        body = {"properties": ["email"], "idProperty": "email",
                "inputs": [{"id": email} for email in chunk]}
        reply = client.sdk("find contacts by email", _batch_read(body))
        for record in _results(reply):
            email = (record.get("properties") or {}).get("email")
            if email:
                found[str(email).lower()] = str(record["id"])
    return found


def list_page(client: HubSpotClient, properties: Sequence[str], after: str | None
              ) -> ContactPage:
    names = wanted(properties)
    reply = client.sdk("list contacts", lambda apis, opts: apis.contacts_basic.get_page(
        limit=LIST_PAGE_SIZE, after=after, properties=names, archived=False, **opts))
    data = reply.data or {}
    return ContactPage([to_contact(r) for r in _results(reply)], after=_next_after(data))


def changed_page(client: HubSpotClient, since: datetime, properties: Sequence[str],
                 after: str | None) -> ContactPage:
    """One page of contacts modified after `since`, oldest change first.

    HubSpot's search reaches 10,000 results at most: at that cap the page answers
    `after=None` although more may have changed, and the caller starts a new pass with
    `since` = the last contact's `updated_at` (contacts changed in that same millisecond
    may be read twice; none is skipped if the caller uses the time minus one millisecond).
    """
    body: dict[str, Any] = {
        "filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GT",
                                       "value": str(_epoch_ms(since))}]}],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": wanted(properties),
        "limit": SEARCH_PAGE_SIZE,
    }
    if after is not None:
        body["after"] = after
    reply = client.sdk("search changed contacts", lambda apis, opts: apis.contacts_search.do_search(
        public_object_search_request=body, **opts), search=True)
    data = reply.data or {}
    nxt = _next_after(data)
    if nxt is not None and int(nxt) >= SEARCH_MAX_RESULTS:
        nxt = None
    total = data.get("total")
    return ContactPage([to_contact(r) for r in _results(reply)], after=nxt,
                       total=int(total) if total is not None else None)


def to_contact(record: dict[str, Any]) -> CrmContact:
    raw = record.get("properties") or {}
    values = {k: v for k, v in raw.items() if v != REDACTED}
    email = values.get("email")
    return CrmContact(
        crm_id=str(record["id"]),
        email=str(email) if email else None,
        properties=values,
        opted_out=str(values.get(OPT_OUT_PROPERTY) or "").lower() == "true",
        updated_at=_parse_time(values.get("lastmodifieddate") or record.get("updatedAt")),
        created_at=_parse_time(values.get("createdate") or record.get("createdAt")),
    )


def _batch_read(body: dict[str, Any]) -> SdkCall:
    def call(apis: SdkApis, options: dict[str, Any]) -> Any:
        return apis.contacts_batch.read(batch_read_input_simple_public_object_id=body,
                                        archived=False, **options)
    return call


def _results(reply: Reply) -> list[dict[str, Any]]:
    data = reply.data if isinstance(reply.data, dict) else {}
    return list(data.get("results") or [])


def _next_after(data: dict[str, Any]) -> str | None:
    after = ((data.get("paging") or {}).get("next") or {}).get("after")
    return str(after) if after else None


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    text = str(value)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
