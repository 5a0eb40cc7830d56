"""/v1/campaigns: list, status, send (now or `at`), pause, resume, cancel through the real
app, on the account's live workspace (the repo's campaigns spring-sale and weekend-ab),
and the HTTP edge: keys, bodies, methods."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from flask.testing import FlaskClient

from connector.runtime import Runtime
from connector.services.accounts import AccountView
from tests.functional.api.conftest import auth

SALE = "/v1/campaigns/spring-sale"


def send(client: FlaskClient, account: AccountView, body: Any = None, **headers: str) -> Any:
    if body is None:
        return client.post(f"{SALE}/send", headers={**auth(account), **headers})
    return client.post(f"{SALE}/send", json=body, headers={**auth(account), **headers})


def campaigns(client: FlaskClient, account: AccountView) -> dict[str, dict[str, Any]]:
    response = client.get("/v1/campaigns", headers=auth(account))
    assert response.status_code == 200
    return {c["key"]: c for c in response.get_json()["campaigns"]}


def test_the_live_workspaces_campaigns_are_listed_as_drafts(
    client: FlaskClient, account: AccountView
) -> None:
    listed = campaigns(client, account)
    assert {"spring-sale", "weekend-ab"} <= set(listed)
    assert listed["spring-sale"]["name"] == "Spring sale"
    assert listed["spring-sale"]["state"] == "draft"
    assert listed["spring-sale"]["audience"] is None
    response = client.get(SALE, headers=auth(account))
    assert response.status_code == 200 and response.get_json() == listed["spring-sale"]


def test_an_unknown_campaign_is_404_naming_the_known_ones(
    client: FlaskClient, account: AccountView
) -> None:
    for method, path in (("get", ""), ("post", "/send"), ("post", "/pause"),
                         ("post", "/resume"), ("post", "/cancel")):
        response = getattr(client, method)(f"/v1/campaigns/nope{path}", headers=auth(account))
        assert response.status_code == 404, path
        message = response.get_json()["error"]
        assert message.startswith("no campaign 'nope', started or in the live workspace"), path
        assert "spring-sale" in message


def test_send_pause_resume_cancel_with_409_for_each_wrong_state(
    client: FlaskClient, account: AccountView, other_account: AccountView
) -> None:
    headers = auth(account)
    paused = client.post(f"{SALE}/pause", headers=headers)  # not started yet
    assert paused.status_code == 409
    assert paused.get_json()["error"] == (
        f"campaign spring-sale has not been started in account {account.id}")

    sent = send(client, account)  # no body: now
    assert sent.status_code == 200
    assert sent.get_json()["state"] == "sending"
    assert sent.get_json()["audience"] == 0  # the account has no engaged readers
    again = send(client, account)
    assert again.status_code == 409 and "was started already" in again.get_json()["error"]

    steps = [("pause", 200, "paused"), ("pause", 409, "only a campaign sending can be paused"),
             ("resume", 200, "sending"), ("cancel", 200, "cancelled"),
             ("resume", 409, "only a campaign paused can be resumed"),
             ("cancel", 409, "can be cancelled")]
    for verb, code, words in steps:
        response = client.post(f"{SALE}/{verb}", headers=headers)
        assert response.status_code == code, verb
        body = response.get_json()
        assert words == body["state"] if code == 200 else words in body["error"], verb
    assert campaigns(client, account)["spring-sale"]["state"] == "cancelled"
    assert campaigns(client, other_account)["spring-sale"]["state"] == "draft"


def test_send_at_a_future_time_schedules_it(
    rt: Runtime, client: FlaskClient, account: AccountView
) -> None:
    at = (rt.clock.now() + timedelta(days=1)).astimezone(timezone(timedelta(hours=2)))
    response = send(client, account, {"at": at.isoformat()})
    assert response.status_code == 200
    body = response.get_json()
    assert body["state"] == "scheduled" and body["audience"] is None
    assert datetime.fromisoformat(body["send_at"]) == at
    cancelled = client.post(f"{SALE}/cancel", headers=auth(account))
    assert cancelled.get_json()["state"] == "cancelled"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"at": "2030-05-01T09:00:00"}, "timezone"),
        ({"at": "tomorrow"}, "datetime"),
        ({"at": "2001-05-01T09:00:00+02:00"}, "has passed (leave `at` out to send now)"),
        ({"at": "2030-05-01T09:00:00+02:00", "when": "now"}, "Extra inputs"),
        (["2030-05-01T09:00:00+02:00"], "valid dictionary"),
    ],
    ids=["no-offset", "not-a-time", "past", "unknown-field", "not-an-object"],
)
def test_a_bad_at_is_422_and_starts_nothing(
    client: FlaskClient, account: AccountView, body: Any, words: str
) -> None:
    response = send(client, account, body)
    assert response.status_code == 422
    error = response.get_json()
    assert error["error"] == "invalid request body"
    assert any(words in d["message"] for d in error["details"]), error
    assert campaigns(client, account)["spring-sale"]["state"] == "draft"


@pytest.mark.parametrize(
    ("data", "content_type", "code", "words"),
    [
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b'{"at": "2030-05-01T09:00+02:00", "at": "2031-05-01T09:00+02:00"}',
         "application/json", 400, "duplicate key"),
        (b'{"at": ' + b"[" * 600 + b"]" * 600 + b"}", "application/json", 400,
         "nested too deeply"),
        (b'{"at": "2030-05-01T09:00+02:00"}', "text/plain", 415, "Content-Type"),
    ],
    ids=["broken", "duplicate-key", "nested-600", "not-json"],
)
def test_a_malformed_body_is_refused_before_anything_starts(
    client: FlaskClient, account: AccountView, data: bytes, content_type: str, code: int,
    words: str,
) -> None:
    response = client.post(f"{SALE}/send", data=data,
                           headers={**auth(account), "Content-Type": content_type})
    assert response.status_code == code
    assert words in response.get_json()["error"]
    assert campaigns(client, account)["spring-sale"]["state"] == "draft"


def test_a_huge_body_is_413(rt: Runtime, client: FlaskClient, account: AccountView) -> None:
    response = send(client, account, {"at": "x" * rt.settings.max_event_bytes})
    assert response.status_code == 413
    assert response.get_json()["error"].startswith("body larger than")
    assert campaigns(client, account)["spring-sale"]["state"] == "draft"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer cdk_nope"},
     # A HubSpot signature opens the read-only app-card endpoints only, never a send.
     {"X-HubSpot-Signature-v3": "forged", "X-HubSpot-Request-Timestamp": "1"}],
    ids=["no-key", "unknown-key", "hubspot-signed"],
)
@pytest.mark.parametrize("path", ["", "/spring-sale", "/spring-sale/send",
                                  "/spring-sale/cancel"])
def test_every_campaign_endpoint_needs_the_accounts_key(
    client: FlaskClient, account: AccountView, headers: dict[str, str], path: str
) -> None:
    method = client.post if path.endswith(("send", "cancel")) else client.get
    response = method(f"/v1/campaigns{path}", headers=headers, data=b"{not json")
    assert response.status_code == 401
    assert response.get_json() == {"error": "missing or unknown API key"}
    assert campaigns(client, account)["spring-sale"]["state"] == "draft"


def test_head_and_options_neither_fail_nor_act(client: FlaskClient, account: AccountView) -> None:
    assert client.head("/v1/campaigns", headers=auth(account)).status_code == 200
    assert client.head(SALE, headers=auth(account)).status_code == 200
    options = client.options(f"{SALE}/send")
    assert options.status_code == 200 and "POST" in options.headers["Allow"]
    head = client.head(f"{SALE}/send", headers=auth(account))
    assert head.status_code == 405
    wrong = client.delete(SALE, headers=auth(account))
    assert wrong.status_code == 405 and "error" in wrong.get_json()
    assert campaigns(client, account)["spring-sale"]["state"] == "draft"


def test_the_operations_are_in_the_openapi_document(client: FlaskClient) -> None:
    paths = client.get("/v1/openapi.json").get_json()["paths"]
    assert set(paths["/v1/campaigns"]) == {"get"}
    assert set(paths["/v1/campaigns/{key}"]) == {"get"}
    send_operation = paths["/v1/campaigns/{key}/send"]["post"]
    assert send_operation["operationId"] == "send_campaign"
    assert {"200", "400", "401", "404", "409", "413", "415", "422"} <= set(
        send_operation["responses"])
    for verb in ("pause", "resume", "cancel"):
        operation = paths[f"/v1/campaigns/{{key}}/{verb}"]["post"]
        assert {"200", "401", "404", "409"} <= set(operation["responses"]), verb
