"""POST /v1/events at the HTTP edge: auth, malformed, invalid and oversized input."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

from connector.models import InboxEvent
from connector.runtime import Runtime
from connector.services.accounts import AccountView

GOOD = {"contact": {"email": "a@example.com"}, "event": "product.viewed"}


def auth(account: AccountView) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.api_key}"}


def inbox_count(rt: Runtime) -> int:
    with rt.db.session() as session:
        return session.query(InboxEvent).count()


def test_accepted_event_is_stored_and_enqueued(
    rt: Runtime, client: FlaskClient, account: AccountView
) -> None:
    response = client.post("/v1/events", json=GOOD, headers=auth(account))
    assert response.status_code == 202
    assert inbox_count(rt) == 1
    assert rt.queues["events"].count == 1


def test_x_api_key_header_works_too(client: FlaskClient, account: AccountView) -> None:
    response = client.post("/v1/events", json=GOOD, headers={"X-API-Key": account.api_key})
    assert response.status_code == 202


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer cdk_nope"}, {"Authorization": "Basic Zm9vOmJhcg=="}]
)
def test_bad_key_is_401_and_stores_nothing(
    rt: Runtime, client: FlaskClient, account: AccountView, headers: dict[str, str]
) -> None:
    response = client.post("/v1/events", json=GOOD, headers=headers)
    assert response.status_code == 401
    assert response.get_json() == {"error": "missing or unknown API key"}
    assert inbox_count(rt) == 0


def test_malformed_json_is_400(rt: Runtime, client: FlaskClient, account: AccountView) -> None:
    response = client.post(
        "/v1/events",
        data=b'{"contact": ',
        headers={**auth(account), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("body is not valid JSON")
    assert inbox_count(rt) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event": "x"}, "contact"),
        ({"contact": {}, "event": "x"}, "contact"),
        ({"contact": {"email": "not-an-email"}, "event": "x"}, "contact.email"),
        ({"contact": {"email": "a@example.com"}, "event": "Bad Name!"}, "event"),
        (
            {
                "contact": {"email": "a@example.com"},
                "event": "x",
                "occurred_at": "2026-01-01T00:00:00",
            },
            "occurred_at",
        ),
        ({"contact": {"email": "a@example.com"}, "event": "x", "surprise": 1}, "surprise"),
        ({"contact": {"email": "a@example.com"}, "event": "x", "properties": []}, "properties"),
        ([1, 2], "(body)"),
    ],
)
def test_schema_errors_are_422_naming_the_field(
    rt: Runtime, client: FlaskClient, account: AccountView, body: object, field: str
) -> None:
    response = client.post("/v1/events", json=body, headers=auth(account))
    assert response.status_code == 422, response.get_json()
    fields = [d["field"] for d in response.get_json()["details"]]
    assert field in fields
    assert inbox_count(rt) == 0


def test_body_over_one_mebibyte_is_413(
    rt: Runtime, client: FlaskClient, account: AccountView
) -> None:
    body = {**GOOD, "properties": {"blob": "x" * (1024 * 1024)}}
    response = client.post(
        "/v1/events",
        data=json.dumps(body),
        headers={**auth(account), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert "larger than" in response.get_json()["error"]
    assert inbox_count(rt) == 0


def test_accounts_are_isolated(rt: Runtime, client: FlaskClient, account: AccountView) -> None:
    from connector.services.accounts import connect_account

    with rt.db.session() as session:
        other, _ = connect_account(
            session,
            rt.vault,
            provider="salesforce",
            external_id="00D000000000001AAA",
            access_token="t",
            instance_url="https://x.my.salesforce.com",
            name=None,
            now=rt.clock.now(),
        )
    body = {**GOOD, "idempotency_key": "same-key"}
    assert (
        client.post("/v1/events", json=body, headers=auth(account)).get_json()["duplicate"] is False
    )
    # The same idempotency key in another account is another event, not a duplicate.
    assert (
        client.post("/v1/events", json=body, headers=auth(other)).get_json()["duplicate"] is False
    )
    with rt.db.session() as session:
        owners = sorted(e.account_id for e in session.query(InboxEvent))
    assert owners == sorted([account.id, other.id])


def test_wake_ups_coalesce_but_never_miss_a_row(
    rt: Runtime, client: FlaskClient, account: AccountView
) -> None:
    from connector.services.processing import process_pending

    for n in range(3):
        body = {"contact": {"email": f"c{n}@example.com"}, "event": "product.viewed"}
        assert client.post("/v1/events", json=body, headers=auth(account)).status_code == 202
    assert rt.queues["events"].count == 1  # one queued job serves all three
    assert process_pending(rt) == 3
    # The job cleared the marker before it looked: the next event wakes a new job.
    client.post("/v1/events", json=GOOD, headers=auth(account))
    assert rt.queues["events"].count == 2
