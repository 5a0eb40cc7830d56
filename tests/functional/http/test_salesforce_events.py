"""POST /webhooks/salesforce/events: a Flow callout's JSON, signed with the org's
per-account secret (X-Drip-Signature), stored once per event id."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from adapters.inbound import CONTACT_DELETED, CONTACT_SYNCED
from connector.models import InboxEvent
from connector.runtime import Runtime
from connector.services.crm_secrets import inbound_secret
from tests.functional.http.test_salesforce_outbound import connect
from tests.unit.adapters.salesforce.fixtures import ORG_ID
from webhooks.salesforce import sign_callout

PATH = "/webhooks/salesforce/events"
RECORD = {"Id": "0035g00000XyZ12AAF", "Email": "jo@example.com", "LastName": "Doe",
          "HasOptedOutOfEmail": False}


def payload(*events: dict[str, Any], org_id: str = ORG_ID) -> dict[str, Any]:
    return {"org_id": org_id, "events": list(events) or [
        {"id": "evt-1", "type": "contact.created", "record": RECORD}]}


def post(rt: Runtime, client: FlaskClient, body: Any, *, account_id: int,
         secret: str | None = None, skew: timedelta = timedelta()) -> TestResponse:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    secret = secret or inbound_secret(rt.settings.secret_key or "", account_id)
    header = sign_callout(secret, data, rt.clock.now() + skew)
    return client.post(PATH, data=data, headers={"Content-Type": "application/json",
                                                 "X-Drip-Signature": header})


def inbox(rt: Runtime) -> list[InboxEvent]:
    with rt.db.session() as session:
        return list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))


def counts(**nonzero: int) -> dict[str, int]:
    return {**dict.fromkeys(("stored", "duplicates", "ignored", "unrouted", "malformed"), 0),
            **nonzero}


def test_signed_events_are_stored_once(rt: Runtime, client: FlaskClient) -> None:
    account = connect(rt)
    body = payload(
        {"id": "evt-1", "type": "contact.created", "record": RECORD},
        {"id": "evt-2", "type": "lead.deleted", "record": {"Id": "00Q5g00000LmNoPEAV"}},
        {"id": "evt-3", "type": "opportunity.created", "record": {}},
        {"id": "evt-4", "type": "contact.changed", "record": {"Id": "nope"}},
    )
    response = post(rt, client, body, account_id=account.id)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == counts(stored=2, ignored=1, malformed=1)
    assert [(r.kind, r.dedup_key) for r in inbox(rt)] == [
        (CONTACT_SYNCED, "callout:evt-1"), (CONTACT_DELETED, "callout:evt-2")]
    assert post(rt, client, body, account_id=account.id).get_json() == counts(
        duplicates=2, ignored=1, malformed=1)
    assert len(inbox(rt)) == 2
    assert rt.queues["events"].count == 1


def test_an_org_connected_by_its_15_character_id_is_found(rt: Runtime, client: FlaskClient
                                                          ) -> None:
    account = connect(rt, ORG_ID[:15])
    response = post(rt, client, payload(), account_id=account.id)
    assert response.get_json() == counts(stored=1)


def test_a_missing_or_bad_signature_is_401(rt: Runtime, client: FlaskClient) -> None:
    account = connect(rt)
    data = json.dumps(payload()).encode()
    missing = client.post(PATH, data=data, headers={"Content-Type": "application/json"})
    assert missing.status_code == 401 and "missing" in missing.get_json()["error"]
    forged = post(rt, client, payload(), account_id=account.id, secret="someone-else")
    assert forged.status_code == 401 and "does not match" in forged.get_json()["error"]
    old = post(rt, client, payload(), account_id=account.id, skew=timedelta(minutes=6))
    assert old.status_code == 401 and "5 minutes" in old.get_json()["error"]
    garbled = client.post(PATH, data=data, headers={"X-Drip-Signature": "v1=abc"})
    assert garbled.status_code == 401
    assert inbox(rt) == []


def test_another_accounts_secret_does_not_sign_for_this_org(rt: Runtime, client: FlaskClient
                                                            ) -> None:
    account = connect(rt)
    other = connect(rt, "00D000000000001")
    assert other.id != account.id
    response = post(rt, client, payload(), account_id=other.id)
    assert response.status_code == 401
    assert inbox(rt) == []


def test_an_unconnected_org_is_401(rt: Runtime, client: FlaskClient) -> None:
    account = connect(rt)
    response = post(rt, client, payload(org_id="00D000000000001"), account_id=account.id)
    assert response.status_code == 401 and "not connected" in response.get_json()["error"]


def test_bad_json_and_bad_shapes_are_400(rt: Runtime, client: FlaskClient) -> None:
    account = connect(rt)
    for body, message in [
        (b'{"org_id": "x", "org_id": "y"}', "duplicate key"),
        (b"[]", "not a JSON object"),
        (json.dumps({"org_id": "001", "events": []}).encode(), "org_id"),
        (json.dumps({"org_id": ORG_ID, "events": []}).encode(), "1 to 100"),
        (json.dumps(payload(*[{"id": str(i), "type": "contact.created", "record": RECORD}
                              for i in range(101)])).encode(), "1 to 100"),
    ]:
        response = post(rt, client, body, account_id=account.id)
        assert response.status_code == 400, body
        assert message in response.get_json()["error"]
    assert inbox(rt) == []


def test_a_body_over_the_limit_is_413(rt: Runtime, client: FlaskClient) -> None:
    account = connect(rt)
    big = payload({"id": "e", "type": "contact.created",
                   "record": {**RECORD, "Description": "x" * (1024 * 1024)}})
    assert post(rt, client, big, account_id=account.id).status_code == 413
