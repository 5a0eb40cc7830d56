"""The Salesforce emulator's REST API driven by the real simple-salesforce over a real
socket: SOQL and paging, sObject CRUD, composite collections, replication windows, the
daily limit header and its 403, expired sessions and injected faults."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from devcrm.salesforce import Org, SalesforceEmulator, plain_http_session
from devcrm.salesforce.ids import checksum


@pytest.fixture
def sf_emu() -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator(api_limit=1000, query_batch=5) as emulator:
        yield emulator


@pytest.fixture
def sf_org(sf_emu: SalesforceEmulator) -> Org:
    return sf_emu.add_org()


@pytest.fixture
def sf(sf_emu: SalesforceEmulator, sf_org: Org) -> Salesforce:
    return Salesforce(instance_url=sf_emu.url, session_id=sf_org.access_token,
                      session=plain_http_session())


def test_ids_look_like_salesforce_ids(sf_org: Org) -> None:
    contact = sf_org.create("Contact", {"LastName": "Ada"})
    lead = sf_org.create("Lead", {"LastName": "Bo"})
    task = sf_org.create("Task", {"Subject": "Call"})
    for record_id, prefix in ((contact, "003"), (lead, "00Q"), (task, "00T"),
                              (sf_org.org_id, "00D"), (sf_org.user_id, "005")):
        assert len(record_id) == 18 and record_id.startswith(prefix)
        assert record_id[15:] == checksum(record_id[:15])


def test_query_pages_through_next_records_url(sf: Salesforce, sf_org: Org) -> None:
    ids = {sf_org.create("Contact", {"LastName": f"N{i}", "Email": f"p{i}@x.io"})
           for i in range(12)}
    first = sf.query("SELECT Id, Email FROM Contact")
    assert first["totalSize"] == 12 and first["done"] is False and len(first["records"]) == 5
    assert "/query/01g" in first["nextRecordsUrl"]
    record = first["records"][0]
    assert record["attributes"]["type"] == "Contact"
    assert record["attributes"]["url"].endswith(f"/sobjects/Contact/{record['Id']}")
    assert set(record) == {"attributes", "Id", "Email"}
    assert {r["Id"] for r in sf.query_all_iter("SELECT Id FROM Contact")} == ids


def test_where_order_and_limit(sf: Salesforce, sf_org: Org) -> None:
    a = sf_org.create("Contact", {"LastName": "A", "Email": "a@x.io"})
    b = sf_org.create("Contact", {"LastName": "B", "Email": "b@x.io"})
    sf_org.create("Contact", {"LastName": "C", "Email": "c@x.io"})
    found = sf.query(f"SELECT Id FROM Contact WHERE Id IN ('{a}', '{b[:15]}') "
                     "ORDER BY LastName DESC")
    assert [r["Id"] for r in found["records"]] == [b, a]
    assert sf.query("SELECT LastName FROM Contact WHERE Email = 'A@X.IO'")["records"][0][
        "LastName"] == "A"
    assert sf.query("SELECT Id FROM Contact ORDER BY Email LIMIT 2")["totalSize"] == 2
    future = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert sf.query(f"SELECT Id FROM Contact WHERE LastModifiedDate > {future}")[
        "totalSize"] == 0
    past = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    assert sf.query(f"SELECT Id FROM Contact WHERE LastModifiedDate > {past} AND "
                    "Email = 'c@x.io'")["totalSize"] == 1


def test_bad_soql_is_refused(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as unknown:
        sf.query("SELECT Nope FROM Contact")
    assert unknown.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as broken:
        sf.query("SELECT Id Contact")
    assert broken.value.content[0]["errorCode"] == "MALFORMED_QUERY"


def test_sobject_crud(sf: Salesforce, sf_org: Org) -> None:
    created = sf.Contact.create({"LastName": "Lovelace", "Email": "ada@x.io"})
    assert created["success"] is True and created["errors"] == []
    contact = sf.Contact.get(created["id"])
    assert contact["Email"] == "ada@x.io" and contact["HasOptedOutOfEmail"] is False
    assert sf.Contact.update(created["id"], {"HasOptedOutOfEmail": True}) == 204
    assert sf_org.records[created["id"]]["HasOptedOutOfEmail"] is True
    with pytest.raises(SalesforceMalformedRequest) as bad:
        sf.Contact.update(created["id"], {"Bogus__c": 1})
    assert bad.value.content[0]["errorCode"] == "INVALID_FIELD"
    assert sf.Contact.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contact.get(created["id"])


def test_convert_lead_makes_a_contact(sf: Salesforce, sf_org: Org) -> None:
    lead = sf.Lead.create({"LastName": "Lee", "Email": "lee@x.io", "Company": "Acme"})["id"]
    contact = sf_org.convert_lead(lead)
    assert sf.Lead.get(lead)["ConvertedContactId"] == contact
    assert sf.Lead.get(lead)["IsConverted"] is True
    assert sf.Contact.get(contact)["Email"] == "lee@x.io"


def test_composite_create_reports_each_record_in_order(sf: Salesforce, sf_org: Org) -> None:
    who = sf_org.create("Contact", {"LastName": "W"})
    task = {"attributes": {"type": "Task"}, "Subject": "Email: hi", "Status": "Completed",
            "TaskSubtype": "Email", "WhoId": who, "ActivityDate": "2026-01-02"}
    results = sf.restful("composite/sobjects", method="POST", json={
        "allOrNone": False, "records": [task, {**task, "Nope": 1}, task]})
    assert [r["success"] for r in results] == [True, False, True]
    assert results[1]["errors"][0]["statusCode"] == "INVALID_FIELD"
    assert sorted(t["Id"] for t in sf_org.tasks.values()) == sorted(
        [results[0]["id"], results[2]["id"]])
    assert sf_org.tasks[results[0]["id"]]["TaskSubtype"] == "Email"


def test_composite_all_or_none_rolls_back(sf: Salesforce, sf_org: Org) -> None:
    task = {"attributes": {"type": "Task"}, "Subject": "x"}
    results = sf.restful("composite/sobjects", method="POST", json={
        "allOrNone": True, "records": [task, {**task, "Nope": 1}]})
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert sf_org.tasks == {}


def test_composite_update_and_the_200_record_cap(sf: Salesforce, sf_org: Org) -> None:
    a = sf_org.create("Contact", {"LastName": "A"})
    results = sf.restful("composite/sobjects", method="PATCH", json={"records": [
        {"attributes": {"type": "Contact"}, "Id": a, "HasOptedOutOfEmail": True},
        {"attributes": {"type": "Contact"}, "Id": "003000000000000AAA", "LastName": "Z"}]})
    assert results[0] == {"id": a, "success": True, "errors": []}
    assert results[1]["errors"][0]["statusCode"] == "NOT_FOUND"
    assert sf_org.records[a]["HasOptedOutOfEmail"] is True
    many = [{"attributes": {"type": "Task"}, "Subject": "x"}] * 201
    with pytest.raises(SalesforceMalformedRequest) as too_many:
        sf.restful("composite/sobjects", method="POST", json={"records": many})
    assert too_many.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert sf_org.tasks == {}


def test_updated_and_deleted_windows(sf: Salesforce, sf_org: Org) -> None:
    start = datetime.now(UTC) - timedelta(minutes=1)
    kept = sf_org.create("Contact", {"LastName": "Kept"})
    gone = sf_org.create("Contact", {"LastName": "Gone"})
    sf_org.delete("Contact", gone)
    end = datetime.now(UTC) + timedelta(minutes=1)
    assert sf.Contact.updated(start, end)["ids"] == [kept]
    deleted = sf.Contact.deleted(start, end)["deletedRecords"]
    assert [d["id"] for d in deleted] == [gone]
    with pytest.raises(SalesforceMalformedRequest) as old:
        sf.Contact.deleted(start - timedelta(days=16), end)
    assert old.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"


def test_limit_header_and_request_limit_exceeded() -> None:
    with SalesforceEmulator(api_limit=3) as emu:
        org = emu.add_org()
        sf = Salesforce(instance_url=emu.url, session_id=org.access_token,
                        session=plain_http_session())
        sf.query("SELECT Id FROM Contact")
        assert sf.api_usage["api-usage"].used == 1 and sf.api_usage["api-usage"].total == 3
        assert sf.limits()["DailyApiRequests"] == {"Max": 3, "Remaining": 1}
        sf.query("SELECT Id FROM Contact")
        with pytest.raises(SalesforceRefusedRequest) as refused:
            sf.query("SELECT Id FROM Contact")
        assert refused.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


def test_expired_session_raises_expired_session() -> None:
    now = [1_800_000_000.0]
    with SalesforceEmulator(token_lifetime=60, clock=lambda: now[0]) as emu:
        org = emu.add_org()
        sf = Salesforce(instance_url=emu.url, session_id=org.access_token,
                        session=plain_http_session())
        sf.query("SELECT Id FROM Contact")
        now[0] += 61
        with pytest.raises(SalesforceExpiredSession) as expired:
            sf.query("SELECT Id FROM Contact")
        assert expired.value.content == [{"message": "Session expired or invalid",
                                          "errorCode": "INVALID_SESSION_ID"}]


def test_faults_answer_before_the_handler(sf_emu: SalesforceEmulator, sf: Salesforce) -> None:
    sf_emu.faults.add(status=503, count=1, path_prefix="/services/data/v59.0/query")
    with pytest.raises(SalesforceGeneralError):
        sf.query("SELECT Id FROM Contact")
    assert sf.query("SELECT Id FROM Contact")["totalSize"] == 0
    assert [r[2] for r in sf_emu.requests] == [503, 200]


def test_a_task_for_an_unknown_who_is_refused(sf: Salesforce, sf_org: Org) -> None:
    results = sf.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "Task"}, "Subject": "x", "WhoId": "003000000000000AAA"}]})
    assert results[0]["success"] is False
    assert results[0]["errors"][0] == {"statusCode": "FIELD_INTEGRITY_EXCEPTION",
                                       "message": "Name ID: id value of incorrect type: "
                                                  "003000000000000AAA", "fields": ["WhoId"]}
    assert sf_org.tasks == {}


def test_query_all_also_sees_deleted_records(sf: Salesforce, sf_org: Org) -> None:
    gone = sf_org.create("Lead", {"LastName": "Gone"})
    sf_org.delete("Lead", gone)
    assert sf.query("SELECT Id FROM Lead")["totalSize"] == 0
    found = sf.query_all("SELECT Id, IsDeleted FROM Lead", include_deleted=True)["records"]
    assert [(r["Id"], r["IsDeleted"]) for r in found] == [(gone, True)]
