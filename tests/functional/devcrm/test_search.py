"""Contact search: operators on any property (dates as epoch ms or ISO), sorts, paging,
the 10,000-result cap and its own per-second limit."""

from __future__ import annotations

from typing import Any

from hubspot import HubSpot
from hubspot.crm.contacts import PublicObjectSearchRequest

from devcrm.hubspot import HubSpotEmulator, Portal
from devcrm.hubspot.records import to_ms
from tests.functional.devcrm.conftest import TOKEN, Api

SEARCH = "/crm/v3/objects/contacts/search"


def _ids(api: Api, *filters: dict[str, Any], **body: Any) -> list[str]:
    answer = api.post(SEARCH, {"filterGroups": [{"filters": list(filters)}] if filters else [],
                               **body})
    assert answer.status_code == 200, answer.text
    return [r["id"] for r in answer.json()["results"]]


def test_operators(api: Api, portal: Portal) -> None:
    a = portal.create_contact({"email": "a@x.io", "lifecyclestage": "lead"})
    b = portal.create_contact({"email": "b@x.io", "lifecyclestage": "customer",
                               "firstname": "Bo"})
    assert _ids(api, {"propertyName": "email", "operator": "EQ", "value": "A@x.io"}) == [a]
    assert _ids(api, {"propertyName": "lifecyclestage", "operator": "NEQ", "value": "lead"}) == [b]
    assert _ids(api, {"propertyName": "firstname", "operator": "HAS_PROPERTY"}) == [b]
    assert _ids(api, {"propertyName": "hs_object_id", "operator": "GT", "value": a}) == [b]
    assert _ids(api, {"propertyName": "hs_object_id", "operator": "LTE", "value": a}) == [a]
    either = api.post(SEARCH, {"filterGroups": [
        {"filters": [{"propertyName": "email", "operator": "EQ", "value": "a@x.io"}]},
        {"filters": [{"propertyName": "email", "operator": "EQ", "value": "b@x.io"}]}]})
    assert either.json()["total"] == 2


def test_lastmodifieddate_as_epoch_ms_or_iso(api: Api, portal: Portal) -> None:
    old = portal.create_contact({"email": "old@x.io"})
    portal.contacts[old]["properties"]["lastmodifieddate"] = "2024-01-01T00:00:00.000Z"
    new = portal.create_contact({"email": "new@x.io"})
    cut_ms = to_ms("2025-01-01T00:00:00Z")
    assert cut_ms is not None
    gte = {"propertyName": "lastmodifieddate", "operator": "GTE"}
    assert _ids(api, {**gte, "value": str(int(cut_ms))}) == [new]
    assert _ids(api, {**gte, "value": "2025-01-01T00:00:00Z"}) == [new]
    lt = {"propertyName": "lastmodifieddate", "operator": "LT", "value": int(cut_ms)}
    assert _ids(api, lt) == [old]
    assert _ids(api, sorts=[{"propertyName": "lastmodifieddate",
                             "direction": "DESCENDING"}]) == [new, old]


def test_paging_with_the_client_and_the_10000_cap(client: HubSpot, portal: Portal,
                                                  api: Api) -> None:
    ids = [portal.create_contact({"email": f"c{i}@x.io"}) for i in range(5)]
    seen, after = [], 0
    while True:
        page = client.crm.contacts.search_api.do_search(PublicObjectSearchRequest(
            filter_groups=[], sorts=["hs_object_id"], properties=["email"], limit=2,
            after=after))
        assert page.total == 5
        seen += [r.id for r in page.results]
        if page.paging is None:
            break
        after = int(page.paging.next.after)
    assert seen == ids
    assert api.post(SEARCH, {"after": "10000", "limit": 10}).status_code == 400
    assert api.post(SEARCH, {"limit": 201}).status_code == 400


def test_search_has_its_own_limit_outside_the_window(portal: Portal) -> None:
    with HubSpotEmulator(rate_limit=(3, 10.0), search_rate=2) as emu:
        emu.add_portal(hub_id=1, private_token=TOKEN)
        api = Api(emu.url, TOKEN)
        statuses = [api.post(SEARCH, {}).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        limited = api.post(SEARCH, {})
        assert limited.json()["policyName"] == "SECONDLY"
        assert "X-HubSpot-RateLimit-Remaining" not in limited.headers
        # Searches did not use the ten-second window.
        assert api.get("/crm/v3/objects/contacts").headers["X-HubSpot-RateLimit-Remaining"] == "2"
