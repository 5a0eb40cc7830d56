"""Email, note and task engagements: creates with inline associations, 207 for inputs whose
contact is unknown, validation, and each contact's timeline."""

from __future__ import annotations

import pytest
from hubspot import HubSpot
from hubspot.crm.objects.emails import ApiException, BatchInputSimplePublicObjectBatchInputForCreate

from devcrm.hubspot import Portal
from tests.functional.devcrm.conftest import Api


def _email(contact_id: str, subject: str = "Hi", **props: str) -> dict[str, object]:
    return {"properties": {"hs_timestamp": "2026-01-05T09:00:00.000Z", "hs_email_direction":
                           "EMAIL", "hs_email_status": "SENT", "hs_email_subject": subject,
                           "hs_email_text": "Hello", "hs_email_headers": "{}", **props},
            "associations": [{"to": {"id": contact_id}, "types": [
                {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 198}]}]}


def test_batch_create_emails_lands_on_the_contacts_timeline(client: HubSpot,
                                                            portal: Portal) -> None:
    cid = portal.create_contact({"email": "a@x.io"})
    answer = client.crm.objects.emails.batch_api.create(
        BatchInputSimplePublicObjectBatchInputForCreate(inputs=[_email(cid, "one"),
                                                                _email(cid, "two")]))
    assert answer.status == "COMPLETE" and len(answer.results) == 2
    assert [e["properties"]["hs_email_subject"] for e in portal.timeline(cid)] == ["one", "two"]
    assert all(e["type"] == "email" for e in portal.timeline(cid))
    assert len(portal.emails) == 2


def test_unknown_contact_fails_only_its_input_with_207(client: HubSpot, portal: Portal) -> None:
    cid = portal.create_contact({"email": "a@x.io"})
    answer = client.crm.objects.emails.batch_api.create(
        BatchInputSimplePublicObjectBatchInputForCreate(inputs=[_email(cid), _email("424242")]))
    assert len(answer.results) == 1 and answer.num_errors == 1
    assert answer.errors[0].context == {"inputIndex": ["1"]}


def test_validation_and_the_100_input_limit(client: HubSpot, api: Api, portal: Portal) -> None:
    cid = portal.create_contact({"email": "a@x.io"})
    no_timestamp = _email(cid)
    del no_timestamp["properties"]["hs_timestamp"]  # type: ignore[attr-defined]
    answer = api.post("/crm/v3/objects/emails", no_timestamp)
    assert answer.status_code == 400 and answer.json()["category"] == "VALIDATION_ERROR"
    bad_status = api.post("/crm/v3/objects/emails", _email(cid, hs_email_status="OPENED"))
    assert bad_status.status_code == 400
    bad_time = api.post("/crm/v3/objects/emails", _email(cid, hs_timestamp="soon"))
    assert bad_time.status_code == 400 and "INVALID_DATETIME" in bad_time.json()["message"]
    with pytest.raises(ApiException) as too_many:
        client.crm.objects.emails.batch_api.create(
            BatchInputSimplePublicObjectBatchInputForCreate(inputs=[_email(cid)] * 101))
    assert too_many.value.status == 400
    assert portal.emails == {}


def test_update_email_notes_and_tasks(api: Api, portal: Portal) -> None:
    cid = portal.create_contact({"email": "a@x.io"})
    email = api.post("/crm/v3/objects/emails", _email(cid, hs_email_status="SENDING"))
    assert email.status_code == 201
    eid = email.json()["id"]
    updated = api.patch(f"/crm/v3/objects/emails/{eid}",
                        {"properties": {"hs_email_status": "BOUNCED"}})
    assert updated.status_code == 200
    assert portal.emails[eid]["properties"]["hs_email_status"] == "BOUNCED"
    note = api.post("/crm/v3/objects/notes/batch/create", {"inputs": [{
        "properties": {"hs_timestamp": "2026-01-05T10:00:00Z", "hs_note_body": "opened"},
        "associations": [{"to": {"id": cid}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}]}]}]})
    assert note.status_code == 201
    wrong_type = api.post("/crm/v3/objects/tasks", {
        "properties": {"hs_timestamp": "2026-01-05T11:00:00Z", "hs_task_subject": "Call"},
        "associations": [{"to": {"id": cid}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 198}]}]})
    assert wrong_type.status_code == 400
    assert [item["type"] for item in portal.timeline(cid)] == ["email", "note"]
