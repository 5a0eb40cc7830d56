"""POST /webhooks/salesforce/outbound with Salesforce's own Outbound Messages: stored
once per Notification Id, committed before the SOAP Ack, routed on the org id in either
form, and refused fast (400/413/401) when hostile."""

from __future__ import annotations

import time

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError
from werkzeug.test import TestResponse

from adapters.inbound import CONTACT_SYNCED
from adapters.salesforce.events import ACK
from connector.models import Contact, InboxEvent, UnroutedDelivery
from connector.runtime import Runtime
from connector.services.accounts import AccountView, connect_account
from connector.services.crm_secrets import inbound_secret
from connector.workspaces import deploy_default
from tests.support.jobs import work
from tests.support.mail import outbox
from tests.unit.adapters.salesforce.fixtures import ORG_ID, fixture, many_notifications

PATH = "/webhooks/salesforce/outbound"


def connect(rt: Runtime, external_id: str = ORG_ID, *, deploy: bool = False) -> AccountView:
    with rt.db.session() as session:
        view, _ = connect_account(session, rt.vault, provider="salesforce",
                                  external_id=external_id, access_token="t",
                                  instance_url="https://x.my.salesforce.com",
                                  now=rt.clock.now())
    if deploy:
        deploy_default(rt.db, rt.settings, view.id, rt.clock.now())
    return view


def post(client: FlaskClient, body: bytes, path: str = PATH) -> TestResponse:
    return client.post(path, data=body, headers={"Content-Type": "text/xml; charset=utf-8",
                                                 "SOAPAction": '""'})


def inbox(rt: Runtime) -> list[InboxEvent]:
    with rt.db.session() as session:
        return list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))


def unrouted(rt: Runtime) -> list[UnroutedDelivery]:
    with rt.db.session() as session:
        return list(session.scalars(select(UnroutedDelivery)))


def assert_ack(response: TestResponse) -> None:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml"
    assert response.get_data(as_text=True) == ACK


def test_a_contact_is_stored_and_committed_before_the_ack(rt: Runtime, client: FlaskClient
                                                          ) -> None:
    account = connect(rt)
    response = post(client, fixture("outbound_contact"))
    assert_ack(response)
    (row,) = inbox(rt)  # read in a session of its own: committed when the Ack left
    assert (row.account_id, row.source, row.kind) == (account.id, "salesforce", CONTACT_SYNCED)
    assert row.dedup_key == "04l5g00000AbCdEAAV"
    assert row.payload["crm_id"] == "0035g00000XyZ12AAF"
    assert row.payload["email"] == "jo.doe@example.com"
    assert row.payload["properties"]["sobject_type"] == "Contact"
    assert row.payload["created_at"].startswith("2026-12-02T06:00:00")
    assert rt.queues["events"].count == 1  # the inbox was woken after commit


def test_no_ack_when_the_commit_fails(rt: Runtime, client: FlaskClient) -> None:
    connect(rt)
    rt.crm_routes.connected("salesforce", {ORG_ID})  # routed before the database fails

    def refuse(_: object) -> None:
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    event.listen(rt.db.engine, "commit", refuse)
    try:
        response = post(client, fixture("outbound_contact"))
        assert response.status_code == 500  # no Ack: Salesforce retries it
        assert b"Ack" not in response.get_data()
    finally:
        event.remove(rt.db.engine, "commit", refuse)
    assert inbox(rt) == []
    assert rt.queues["events"].count == 0  # nothing woken for rows that are not there
    assert_ack(post(client, fixture("outbound_contact")))  # the retry is stored
    assert len(inbox(rt)) == 1


def test_a_lead_is_stored_with_its_type_and_opt_out(rt: Runtime, client: FlaskClient) -> None:
    connect(rt)
    assert_ack(post(client, fixture("outbound_lead")))
    (row,) = inbox(rt)
    assert row.payload["properties"]["sobject_type"] == "Lead"
    assert row.payload["opted_out"] is True
    assert row.payload["created_at"] == rt.clock.now().isoformat()  # first seen: created now


def test_a_redelivered_notification_is_stored_once_and_still_acked(
    rt: Runtime, client: FlaskClient
) -> None:
    connect(rt)
    for _ in range(3):
        assert_ack(post(client, fixture("outbound_contact")))
    assert len(inbox(rt)) == 1
    assert rt.queues["events"].count == 1  # duplicates wake nothing


def test_a_hundred_notifications_are_stored_fast_and_more_refused(
    rt: Runtime, client: FlaskClient
) -> None:
    connect(rt)
    started = time.monotonic()
    assert_ack(post(client, many_notifications(100)))
    assert time.monotonic() - started < 5.0  # generous: Salesforce wants it within seconds
    assert len(inbox(rt)) == 100
    response = post(client, many_notifications(101))
    assert response.status_code == 400 and "101 notifications" in response.get_json()["error"]
    assert len(inbox(rt)) == 100


@pytest.mark.parametrize("connected_as", [ORG_ID, ORG_ID[:15]])
def test_the_org_matches_in_its_15_or_18_character_form(
    rt: Runtime, client: FlaskClient, connected_as: str
) -> None:
    account = connect(rt, connected_as)
    for sent in (ORG_ID, ORG_ID[:15]):
        body = fixture("outbound_contact").replace(ORG_ID.encode(), sent.encode())
        body = body.replace(b"04l5g00000AbCdEAAV", f"04l5g00000AbC{len(sent)}".encode())
        assert_ack(post(client, body))
    assert [r.account_id for r in inbox(rt)] == [account.id, account.id]


def test_a_foreign_org_is_acked_and_recorded_unrouted(rt: Runtime, client: FlaskClient) -> None:
    connect(rt)
    body = many_notifications(3, org_id="00D000000000001")
    assert_ack(post(client, body))
    assert inbox(rt) == []
    (delivery,) = unrouted(rt)
    assert (delivery.source, delivery.external_id, delivery.events) == (
        "salesforce", "00D000000000001", 3)
    assert delivery.kinds == [CONTACT_SYNCED]
    assert rt.queues["events"].count == 0


def test_the_url_token_must_be_the_orgs_secret_when_given(rt: Runtime, client: FlaskClient
                                                          ) -> None:
    account = connect(rt)
    secret = inbound_secret(rt.settings.secret_key or "", account.id)
    bad = post(client, fixture("outbound_contact"), f"{PATH}?token=wrong")
    assert bad.status_code == 401 and "token" in bad.get_json()["error"]
    assert inbox(rt) == []
    assert_ack(post(client, fixture("outbound_contact"), f"{PATH}?token={secret}"))
    assert len(inbox(rt)) == 1


@pytest.mark.parametrize("name", ["entity_bomb", "external_dtd"])
def test_a_dtd_or_entity_bomb_is_400_within_milliseconds(
    rt: Runtime, client: FlaskClient, name: str
) -> None:
    connect(rt)
    started = time.monotonic()
    response = post(client, fixture(name))
    assert time.monotonic() - started < 1.0  # generous; an expanded bomb takes minutes
    assert response.status_code == 400
    assert "DOCTYPE is not allowed" in response.get_json()["error"]
    assert inbox(rt) == [] and unrouted(rt) == []


def test_malformed_soap_is_400_with_where(rt: Runtime, client: FlaskClient) -> None:
    response = post(client, fixture("malformed_soap"))
    assert response.status_code == 400
    assert "mismatched tag (line 8" in response.get_json()["error"]


def test_a_body_over_a_mebibyte_is_413(rt: Runtime, client: FlaskClient) -> None:
    connect(rt)
    body = fixture("outbound_contact").replace(b"Doe", b"D" * (1024 * 1024))
    response = post(client, body)
    assert response.status_code == 413
    assert inbox(rt) == []


def test_a_new_contact_gets_the_welcome_email(rt: Runtime, client: FlaskClient) -> None:
    account = connect(rt, deploy=True)
    assert_ack(post(client, fixture("outbound_contact")))
    work(rt)
    with rt.db.session() as session:
        contact = session.scalars(select(Contact).where(
            Contact.account_id == account.id, Contact.crm_id == "0035g00000XyZ12AAF")).one()
        assert contact.email == "jo.doe@example.com"
        assert contact.properties["lastname"] == "Doe"
    sent = outbox(rt)
    assert [m["To"] for m in sent] == ["jo.doe@example.com"]
