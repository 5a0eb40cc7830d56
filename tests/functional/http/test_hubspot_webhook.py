"""POST /webhooks/hubspot with HubSpot's own batches, signed the way HubSpot signs them
(hubspot-api-client's signer): every fixture becomes inbox rows of the shared kinds,
once however often it is delivered, routed to its portal's account."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from flask.testing import FlaskClient
from hubspot.utils.signature import Signature
from sqlalchemy import select, update
from werkzeug.test import TestResponse

from adapters.hubspot.signature import v3_signature
from adapters.inbound import (
    CONTACT_CHANGED,
    CONTACT_CREATED,
    CONTACT_DELETED,
    CONTACT_MERGED,
    CONTACT_RESTORED,
)
from connector.models import Account, InboxEvent, UnroutedDelivery
from connector.runtime import Runtime
from tests.conftest import MakeAccount, MakeRuntime
from tests.unit.adapters.hubspot.fixtures import PORTAL, fixture, fixture_paths

SECRET = "hubspot-client-secret-for-tests"
PATH = "/webhooks/hubspot"
PUBLIC = "https://drip.example.com"  # PUBLIC_BASE_URL of the test settings

# Fixture -> the kind it is stored as (None: answered 2xx, ignored).
EXPECTED: dict[str, str | None] = {
    "contact_creation": CONTACT_CREATED,
    "contact_propertyChange": CONTACT_CHANGED,
    "contact_propertyChange_redacted": CONTACT_CHANGED,
    "contact_deletion": CONTACT_DELETED,
    "contact_privacyDeletion": CONTACT_DELETED,
    "contact_merge": CONTACT_MERGED,
    "contact_restore": CONTACT_RESTORED,
    "object_creation": CONTACT_CREATED,
    "object_propertyChange": CONTACT_CHANGED,
    "object_deletion": CONTACT_DELETED,
    "object_merge": CONTACT_MERGED,
    "object_restore": CONTACT_RESTORED,
    "contact_associationChange": None,
    "object_associationChange": None,
    "object_creation_company": None,
    "company_creation": None,
    "company_propertyChange": None,
    "company_deletion": None,
    "deal_creation": None,
    "deal_propertyChange": None,
    "deal_deletion": None,
}


@pytest.fixture
def rt(make_runtime: MakeRuntime) -> Runtime:
    return make_runtime(hubspot_client_secret=SECRET)


def signed(rt: Runtime, body: str | bytes, *, path: str = PATH, method: str = "POST",
           secret: str = SECRET, skew_ms: int = 0) -> dict[str, str]:
    """HubSpot's v3 headers for this body, at the test clock's now (+ skew). Bytes that
    are not UTF-8 (which the real signer cannot take) are signed by ours."""
    timestamp = str(int(rt.clock.now().timestamp() * 1000) + skew_ms)
    if isinstance(body, bytes):
        signature = v3_signature(secret, method=method, uri=PUBLIC + path, body=body,
                                 timestamp=timestamp)
    else:
        signature = Signature.get_signature(secret, body, "v3", http_uri=PUBLIC + path,
                                            http_method=method, timestamp=timestamp)
    return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": timestamp,
            "Content-Type": "application/json"}


def post(rt: Runtime, client: FlaskClient, events: Any, **sign: Any) -> TestResponse:
    body = events if isinstance(events, str | bytes) else json.dumps(events)
    return client.post(PATH, data=body, headers=signed(rt, body, **sign))


def inbox(rt: Runtime) -> list[InboxEvent]:
    with rt.db.session() as session:
        return list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))


def unrouted(rt: Runtime) -> list[UnroutedDelivery]:
    with rt.db.session() as session:
        return list(session.scalars(select(UnroutedDelivery).order_by(UnroutedDelivery.id)))


def counts(**nonzero: int) -> dict[str, int]:
    return {**dict.fromkeys(("stored", "duplicates", "ignored", "unrouted", "malformed"), 0),
            **nonzero}


def test_the_table_covers_every_fixture() -> None:
    assert sorted(EXPECTED) == [p.stem for p in fixture_paths()]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_fixture_posted_signed_is_stored_as_its_kind(
    rt: Runtime, client: FlaskClient, make_account: MakeAccount, name: str
) -> None:
    account = make_account(PORTAL, deploy=False)
    response = post(rt, client, fixture(name))
    assert response.status_code == 200, response.get_json()
    kind = EXPECTED[name]
    rows = inbox(rt)
    if kind is None:
        assert response.get_json() == counts(ignored=1)
        assert rows == []
        return
    assert response.get_json() == counts(stored=1)
    (row,) = rows
    assert (row.account_id, row.source, row.kind) == (account.id, "hubspot", kind)
    assert row.payload["crm_id"] and len(row.dedup_key) <= 64
    assert row.occurred_at.replace(tzinfo=None) < rt.clock.now().replace(tzinfo=None)
    assert rt.queues["events"].count == 1  # the inbox was woken after commit


def test_a_redacted_value_is_stored_without_a_value(
    rt: Runtime, client: FlaskClient, make_account: MakeAccount
) -> None:
    make_account(PORTAL, deploy=False)
    assert post(rt, client, fixture("contact_propertyChange_redacted")).status_code == 200
    (row,) = inbox(rt)
    assert row.payload == {"crm_id": "1246965", "property": "date_of_birth", "redacted": True}


def test_the_same_batch_ten_times_is_stored_once(
    rt: Runtime, client: FlaskClient, make_account: MakeAccount
) -> None:
    make_account(PORTAL, deploy=False)
    batch = [e for name, kind in EXPECTED.items() if kind for e in fixture(name)]
    first = post(rt, client, batch)
    assert first.get_json() == counts(stored=len(batch))
    for attempt in range(1, 10):
        again = [{**e, "attemptNumber": attempt} for e in batch]
        assert post(rt, client, again).get_json() == counts(duplicates=len(batch))
    assert len(inbox(rt)) == len(batch)


def test_a_privacy_deletion_and_its_plain_deletion_are_both_stored(
    rt: Runtime, client: FlaskClient, make_account: MakeAccount
) -> None:
    make_account(PORTAL, deploy=False)
    batch = fixture("contact_deletion") + fixture("contact_privacyDeletion")
    assert post(rt, client, batch).get_json() == counts(stored=2)
    assert sorted(r.payload["privacy"] for r in inbox(rt)) == [False, True]


def test_a_thousand_events_in_one_body_are_stored_and_answered_fast(
    rt: Runtime, client: FlaskClient, make_account: MakeAccount
) -> None:
    make_account(PORTAL, deploy=False)
    (template,) = fixture("contact_propertyChange")
    batch = [{**template, "eventId": i, "objectId": 10_000 + i} for i in range(1000)]
    started = time.monotonic()
    response = post(rt, client, batch)
    elapsed = time.monotonic() - started
    assert response.get_json() == counts(stored=1000)
    assert len(inbox(rt)) == 1000
    assert elapsed < 5.0  # HubSpot gives up (and retries) after 5 s


def test_an_unconnected_portal_is_answered_and_recorded_without_effect(
    rt: Runtime, client: FlaskClient, make_account: MakeAccount
) -> None:
    make_account("99999", deploy=False)  # someone else's portal is connected
    batch = fixture("contact_creation") + fixture("contact_propertyChange")
    response = post(rt, client, batch)
    assert response.status_code == 200
    assert response.get_json() == counts(unrouted=2)
    assert inbox(rt) == []
    (delivery,) = unrouted(rt)
    assert (delivery.source, delivery.external_id, delivery.events) == ("hubspot", PORTAL, 2)
    assert delivery.kinds == [CONTACT_CHANGED, CONTACT_CREATED]
    assert rt.queues["events"].count == 0


def test_a_disconnected_portal_is_unrouted(
    rt: Runtime, client: FlaskClient, make_account: MakeAccount
) -> None:
    account = make_account(PORTAL, deploy=False)
    with rt.db.session() as session:
        session.execute(update(Account).where(Account.id == account.id)
                        .values(status="disconnected"))
    assert post(rt, client, fixture("contact_creation")).get_json() == counts(unrouted=1)
    assert inbox(rt) == [] and len(unrouted(rt)) == 1


def test_two_portals_in_one_batch_go_to_their_own_accounts(
    rt: Runtime, client: FlaskClient, make_account: MakeAccount
) -> None:
    first = make_account(PORTAL, deploy=False)
    second = make_account("12345", name="Second portal", deploy=False)
    (event,) = fixture("contact_creation")
    batch = [event, {**event, "portalId": 12345, "objectId": 777},
             {**event, "portalId": 55555, "objectId": 888}]
    assert post(rt, client, batch).get_json() == counts(stored=2, unrouted=1)
    assert {(r.account_id, r.payload["crm_id"]) for r in inbox(rt)} == {
        (first.id, "1246978"), (second.id, "777")}
    assert [d.external_id for d in unrouted(rt)] == ["55555"]


def test_the_same_event_in_two_portals_is_two_events(
    rt: Runtime, client: FlaskClient, make_account: MakeAccount
) -> None:
    make_account(PORTAL, deploy=False)
    make_account("12345", name="Second portal", deploy=False)
    (event,) = fixture("contact_creation")
    batch = [event, {**event, "portalId": 12345}]
    assert post(rt, client, batch).get_json() == counts(stored=2)


def test_a_bad_event_in_a_good_batch_is_counted_and_the_rest_stored(
    rt: Runtime, client: FlaskClient, make_account: MakeAccount
) -> None:
    make_account(PORTAL, deploy=False)
    (good,) = fixture("contact_creation")
    batch = [good, {**good, "objectId": "not-an-id"}, {**good, "eventId": 2, "occurredAt": None},
             *fixture("contact_associationChange")]
    response = post(rt, client, batch)
    assert response.status_code == 200
    assert response.get_json() == counts(stored=1, malformed=2, ignored=1)
    assert len(inbox(rt)) == 1


def test_an_empty_batch_is_fine(rt: Runtime, client: FlaskClient) -> None:
    assert post(rt, client, []).get_json() == counts()


def test_the_signed_uri_is_the_public_one_with_the_query_hubspot_called(
    rt: Runtime, client: FlaskClient, make_account: MakeAccount
) -> None:
    make_account(PORTAL, deploy=False)
    body = json.dumps(fixture("contact_creation"))
    # HubSpot signs the URI with %3A decoded; the request arrives with the escape.
    headers = signed(rt, body, path=PATH + "?app=drip:1")
    response = client.post(PATH + "?app=drip%3A1", data=body, headers=headers,
                           base_url="http://10.0.0.7:5000")  # behind a proxy
    assert response.status_code == 200, response.get_json()


def test_a_v1_signature_is_accepted_where_hubspot_still_sends_it(
    rt: Runtime, client: FlaskClient, make_account: MakeAccount
) -> None:
    make_account(PORTAL, deploy=False)
    body = json.dumps(fixture("contact_creation"))
    headers = {"X-HubSpot-Signature": Signature.get_signature(SECRET, body, "v1"),
               "X-HubSpot-Signature-Version": "v1", "Content-Type": "application/json"}
    assert client.post(PATH, data=body, headers=headers).get_json() == counts(stored=1)


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT"])
def test_other_methods_are_405(rt: Runtime, client: FlaskClient, method: str) -> None:
    response = client.open(PATH, method=method)
    assert response.status_code == 405
    assert inbox(rt) == []
