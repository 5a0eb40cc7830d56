"""Contacts through the real hubspot-api-client and requests: paging, batch limits and
207s, validation against the portal's properties, merges, archive and GDPR delete."""

from __future__ import annotations

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectInputForCreate,
)

from devcrm.hubspot import Portal
from tests.functional.devcrm.conftest import Api


def test_pages_through_every_contact_with_the_client(client: HubSpot, portal: Portal) -> None:
    ids = [portal.create_contact({"email": f"c{i}@x.io", "firstname": f"C{i}"}) for i in range(25)]
    seen, after = [], None
    while True:
        page = client.crm.contacts.basic_api.get_page(limit=10, after=after,
                                                      properties=["email", "firstname"])
        seen += [c.id for c in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    assert seen == ids
    first = client.crm.contacts.basic_api.get_by_id(ids[0])
    assert set(first.properties) == {"firstname", "lastname", "email", "createdate",
                                     "lastmodifieddate", "hs_object_id"}
    assert first.properties["hs_object_id"] == ids[0] and first.properties["lastname"] is None


def test_list_limit_above_100_is_refused(api: Api) -> None:
    answer = api.get("/crm/v3/objects/contacts", params={"limit": 101})
    assert answer.status_code == 400 and answer.json()["category"] == "VALIDATION_ERROR"


def test_batch_read_answers_207_with_errors_for_unknown_ids(client: HubSpot,
                                                            portal: Portal) -> None:
    known = portal.create_contact({"email": "a@x.io"})
    answer = client.crm.contacts.batch_api.read(BatchReadInputSimplePublicObjectId(
        inputs=[{"id": known}, {"id": "999999"}], properties=["email"],
        properties_with_history=[]))
    assert [r.id for r in answer.results] == [known]
    assert answer.num_errors == 1
    assert answer.errors[0].category == "OBJECT_NOT_FOUND"
    assert answer.errors[0].context == {"ids": ["999999"]}


def test_batch_read_by_email_and_more_than_100_inputs(api: Api, portal: Portal) -> None:
    portal.create_contact({"email": "Ann@X.io", "firstname": "Ann"})
    by_email = api.post("/crm/v3/objects/contacts/batch/read", {
        "idProperty": "email", "properties": ["firstname"], "inputs": [{"id": "ann@x.io"}]})
    assert by_email.status_code == 200
    assert by_email.json()["results"][0]["properties"]["firstname"] == "Ann"
    too_many = api.post("/crm/v3/objects/contacts/batch/read",
                        {"properties": [], "inputs": [{"id": str(i)} for i in range(101)]})
    assert too_many.status_code == 400


def test_batch_update_refuses_duplicates_and_unknown_properties(client: HubSpot,
                                                                portal: Portal) -> None:
    cid = portal.create_contact({"email": "a@x.io"})
    batch = client.crm.contacts.batch_api
    with pytest.raises(ApiException) as dup:
        batch.update(BatchInputSimplePublicObjectBatchInput(inputs=[
            {"id": cid, "properties": {"firstname": "A"}},
            {"id": cid, "properties": {"firstname": "B"}}]))
    assert dup.value.status == 400 and "Duplicate" in dup.value.body
    with pytest.raises(ApiException) as unknown:
        batch.update(BatchInputSimplePublicObjectBatchInput(inputs=[
            {"id": cid, "properties": {"drip_last_open": "2024-01-01"}}]))
    assert unknown.value.status == 400
    assert "Property values were not valid" in unknown.value.body
    assert "PROPERTY_DOESNT_EXIST" in unknown.value.body
    done = batch.update(BatchInputSimplePublicObjectBatchInput(inputs=[
        {"id": cid, "properties": {"lifecyclestage": "customer"}}]))
    assert done.results[0].properties["lifecyclestage"] == "customer"
    assert portal.contacts[cid]["properties"]["lifecyclestage"] == "customer"


def test_bad_option_and_read_only_values_are_refused(api: Api, portal: Portal) -> None:
    cid = portal.create_contact({"email": "a@x.io"})
    bad = api.patch(f"/crm/v3/objects/contacts/{cid}",
                    {"properties": {"lifecyclestage": "royalty"}})
    assert bad.status_code == 400 and "INVALID_OPTION" in bad.json()["message"]
    read_only = api.patch(f"/crm/v3/objects/contacts/{cid}",
                          {"properties": {"hs_email_optout": "true"}})
    assert read_only.status_code == 400 and "READ_ONLY_VALUE" in read_only.json()["message"]


def test_create_answers_201_and_refuses_an_existing_email(client: HubSpot, api: Api) -> None:
    created = client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(
        properties={"email": "new@x.io", "firstname": "New"}, associations=[]))
    assert created.properties["email"] == "new@x.io"
    again = api.post("/crm/v3/objects/contacts", {"properties": {"email": "NEW@x.io"}})
    assert again.status_code == 409 and again.json()["category"] == "CONFLICT"


def test_merged_away_id_answers_the_winner(api: Api, portal: Portal) -> None:
    primary = portal.create_contact({"email": "p@x.io"})
    merged = portal.create_contact({"email": "m@x.io", "firstname": "Moved"})
    answer = api.post("/crm/v3/objects/contacts/merge",
                      {"primaryObjectId": primary, "objectIdToMerge": merged})
    assert answer.status_code == 200 and answer.json()["id"] == primary
    read = api.get(f"/crm/v3/objects/contacts/{merged}").json()
    assert read["id"] == primary and read["properties"]["firstname"] == "Moved"
    assert read["properties"]["email"] == "p@x.io"


def test_archive_restore_and_gdpr_delete(api: Api, portal: Portal) -> None:
    cid = portal.create_contact({"email": "a@x.io"})
    assert api.delete(f"/crm/v3/objects/contacts/{cid}").status_code == 204
    assert api.get(f"/crm/v3/objects/contacts/{cid}").status_code == 404
    archived = api.get("/crm/v3/objects/contacts", params={"archived": "true"}).json()
    assert [c["id"] for c in archived["results"]] == [cid]
    portal.restore_contact(cid)
    assert api.get(f"/crm/v3/objects/contacts/{cid}").status_code == 200
    gone = api.post("/crm/v3/objects/contacts/gdpr-delete", {"objectId": cid})
    assert gone.status_code == 204 and cid not in portal.contacts


def test_a_merge_can_give_the_winner_a_new_id(api: Api, portal: Portal) -> None:
    portal.merge_creates_new_id = True
    primary = portal.create_contact({"email": "p@x.io"})
    merged = portal.create_contact({"email": "m@x.io"})
    winner = portal.merge(primary, merged)["id"]
    assert winner not in (primary, merged)
    for old in (primary, merged):
        assert api.get(f"/crm/v3/objects/contacts/{old}").json()["id"] == winner
    assert portal.contacts[winner]["properties"]["hs_merged_object_ids"] == merged


def test_batch_upsert_by_email(api: Api, portal: Portal) -> None:
    existing = portal.create_contact({"email": "old@x.io"})
    answer = api.post("/crm/v3/objects/contacts/batch/upsert", {"inputs": [
        {"id": "old@x.io", "idProperty": "email", "properties": {"firstname": "Old"}},
        {"id": "new@x.io", "idProperty": "email", "properties": {"firstname": "New"}}]})
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert [(r["id"] == existing, r["new"]) for r in results] == [(True, False), (False, True)]
    assert portal.contact_by_email("new@x.io") is not None


def test_account_details_name_the_tokens_portal(api: Api, portal: Portal) -> None:
    assert api.get("/account-info/v3/details").json()["portalId"] == portal.hub_id
