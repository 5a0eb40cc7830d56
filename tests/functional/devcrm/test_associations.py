"""Associations v4 batch read (contacts -> emails, notes, tasks) and engagement batch
reads, through the real hubspot-api-client: HubSpot's shape, its 207 for a contact without
any, per-contact paging, and the portal's rate limit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hubspot import HubSpot
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest
from hubspot.crm.associations.v4.exceptions import ApiException
from hubspot.crm.objects.emails import BatchReadInputSimplePublicObjectId

from devcrm.hubspot import HubSpotEmulator, Portal
from tests.functional.devcrm.conftest import TOKEN, Api

READ = "/crm/v4/associations/contacts/emails/batch/read"


def _email(portal: Portal, contact_id: str, subject: str = "Hi") -> str:
    record = portal.create_engagement("emails", {"hs_email_subject": subject,
                                                 "hs_email_headers": "{}"}, [contact_id])
    return str(record["id"])


def _inputs(*items: dict[str, str]) -> BatchInputPublicFetchAssociationsBatchRequest:
    return BatchInputPublicFetchAssociationsBatchRequest(inputs=list(items))


def test_a_contacts_emails_with_their_association_type(client: HubSpot, portal: Portal) -> None:
    ann = portal.create_contact({"email": "ann@example.com"})
    bob = portal.create_contact({"email": "bob@example.com"})
    ids = [_email(portal, ann, "one"), _email(portal, ann, "two")]
    _email(portal, bob)
    portal.create_engagement("notes", {"hs_note_body": "n"}, [ann])  # not an email
    answer = client.crm.associations.v4.batch_api.get_page("contacts", "emails", _inputs(
        {"id": ann}))
    assert answer.status == "COMPLETE"
    (result,) = answer.results
    assert result._from.id == ann and result.paging is None
    assert [str(t.to_object_id) for t in result.to] == ids
    kinds = {(a.category, a.type_id) for t in result.to for a in t.association_types}
    assert kinds == {("HUBSPOT_DEFINED", 197)}


def test_a_contact_without_emails_is_a_207_error_entry(api: Api, portal: Portal) -> None:
    ann = portal.create_contact({"email": "ann@example.com"})
    bob = portal.create_contact({"email": "bob@example.com"})
    _email(portal, ann)
    answer = api.post(READ, {"inputs": [{"id": ann}, {"id": bob}, {"id": "424242"}]})
    assert answer.status_code == 207
    data = answer.json()
    assert [r["from"]["id"] for r in data["results"]] == [ann]
    assert isinstance(data["results"][0]["to"][0]["toObjectId"], int)
    assert data["numErrors"] == 2
    assert {e["subCategory"] for e in data["errors"]} == {
        "crm.associations.NO_ASSOCIATIONS_FOUND"}
    assert [e["context"]["fromObjectId"] for e in data["errors"]] == [[bob], ["424242"]]
    assert data["errors"][0]["message"] == f"No email is associated with contact {bob}."


def test_more_than_a_page_of_emails_pages_per_contact(api: Api, portal: Portal) -> None:
    ann = portal.create_contact({"email": "ann@example.com"})
    ids = [_email(portal, ann) for _ in range(503)]
    first = api.post(READ, {"inputs": [{"id": ann}]}).json()["results"][0]
    assert len(first["to"]) == 500
    after = first["paging"]["next"]["after"]
    second = api.post(READ, {"inputs": [{"id": ann, "after": after}]}).json()["results"][0]
    assert "paging" not in second
    assert [str(t["toObjectId"]) for t in first["to"] + second["to"]] == ids


def test_the_input_limit_is_a_thousand(api: Api, portal: Portal) -> None:
    assert api.post(READ, {"inputs": [{"id": str(i)} for i in range(1000)]}).status_code == 207
    too_many = api.post(READ, {"inputs": [{"id": str(i)} for i in range(1001)]})
    assert too_many.status_code == 400 and too_many.json()["category"] == "VALIDATION_ERROR"


def test_merged_away_ids_answer_the_winners_emails(api: Api, portal: Portal) -> None:
    ann = portal.create_contact({"email": "ann@example.com"})
    dup = portal.create_contact({"email": "ann.dup@example.com"})
    email = _email(portal, dup)
    portal.merge(ann, dup)
    data = api.post(READ, {"inputs": [{"id": dup}]}).json()
    assert [str(t["toObjectId"]) for t in data["results"][0]["to"]] == [email]


def test_emails_batch_read_answers_the_asked_properties(client: HubSpot, portal: Portal
                                                        ) -> None:
    ann = portal.create_contact({"email": "ann@example.com"})
    email = _email(portal, ann, "Welcome")
    answer = client.crm.objects.emails.batch_api.read(BatchReadInputSimplePublicObjectId(
        properties=["hs_email_headers"], inputs=[{"id": email}]))
    (record,) = answer.results
    assert record.id == email and record.properties["hs_email_headers"] == "{}"
    assert "hs_email_subject" not in record.properties


def test_emails_batch_read_of_a_missing_id_is_a_207(api: Api, portal: Portal) -> None:
    ann = portal.create_contact({"email": "ann@example.com"})
    email = _email(portal, ann)
    answer = api.post("/crm/v3/objects/emails/batch/read",
                      {"properties": ["hs_email_headers"], "inputs": [{"id": email},
                                                                      {"id": "1"}]})
    assert answer.status_code == 207
    data = answer.json()
    assert [r["id"] for r in data["results"]] == [email]
    assert data["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert data["errors"][0]["context"] == {"ids": ["1"]}


@pytest.fixture
def small() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(rate_limit=(3, 10.0)) as emu:
        emu.add_portal(hub_id=1, private_token=TOKEN)
        yield emu


def test_association_reads_count_against_the_rate_limit(small: HubSpotEmulator) -> None:
    client = HubSpot(access_token=TOKEN, host=small.url)
    api = client.crm.associations.v4.batch_api
    for _ in range(3):
        api.get_page("contacts", "emails", _inputs({"id": "1"}))
    with pytest.raises(ApiException) as limited:
        api.get_page("contacts", "emails", _inputs({"id": "1"}))
    assert limited.value.status == 429
    assert [r[2] for r in small.requests] == [207, 207, 207, 429]
