"""/v1/campaigns: list, status, send (now or `at`), pause, resume, cancel and test-send
through the real app, on the account's live workspace (the repo's campaigns spring-sale
and weekend-ab), and the HTTP edge: keys, bodies, methods. Test sends go to a real SMTP
server (aiosmtpd)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from connector.app import create_app
from connector.models import (
    CampaignRecipient,
    CampaignRun,
    Contact,
    CrmWriteback,
    Message,
    Suppression,
)
from connector.runtime import Runtime
from connector.services.accounts import AccountView
from connector.services.campaigns import MAX_TEST_ADDRESSES
from tests.conftest import MakeRuntime
from tests.functional.api.conftest import auth
from tests.support.smtp import SmtpServer
from tests.support.workspaces import copy_of_repo_workspace, deploy

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
                                  "/spring-sale/cancel", "/spring-sale/test-send"])
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


# ---- POST /v1/campaigns/{key}/test-send ----------------------------------------------


@pytest.fixture
def smtp_client(make_runtime: MakeRuntime, smtp_server: SmtpServer, account: AccountView
                ) -> FlaskClient:
    """The app sending through a real SMTP server; Ada, a customer, is a stored contact."""
    rt = make_runtime(mail_url=smtp_server.url)
    now = rt.clock.now()
    with rt.db.session() as session:
        session.add(Contact(account_id=account.id, email="ada@example.com", crm_id="501",
                            properties={"firstname": "Ada", "lifecyclestage": "customer"},
                            created_at=now, updated_at=now))
        session.add(Suppression(account_id=account.id, email="left@example.com",
                                reason="unsubscribed", created_at=now))
    return create_app(rt).test_client()


def post_test_send(client: FlaskClient, account: AccountView, body: Any,
                   key: str = "spring-sale") -> Any:
    return client.post(f"/v1/campaigns/{key}/test-send", json=body, headers=auth(account))


def rows(rt: Runtime) -> dict[str, int]:
    with rt.db.session() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                or 0 for model in (CampaignRun, CampaignRecipient, Message, CrmWriteback)}


def test_a_test_send_arrives_rendered_for_the_contact_and_changes_nothing(
    rt: Runtime, smtp_client: FlaskClient, account: AccountView, smtp_server: SmtpServer
) -> None:
    body = {"to": ["Me@Acme.example", "me@acme.example", "boss@acme.example"],
            "as": "ada@example.com"}
    response = post_test_send(smtp_client, account, body)
    assert response.status_code == 200, response.get_json()
    sent = response.get_json()
    ada = {"source": "as", "email": "ada@example.com", "crm_id": "501"}
    subject = "[Test] Ada, our spring sale is on: 20% off everything"
    assert [{k: e[k] for k in ("variant", "subject", "to", "contact")} for e in sent] == [
        {"variant": None, "subject": subject, "to": "me@acme.example", "contact": ada},
        {"variant": None, "subject": subject, "to": "boss@acme.example", "contact": ada}]
    assert [m["To"] for m in smtp_server.messages] == ["me@acme.example", "boss@acme.example"]
    message = smtp_server.messages[0]
    assert message["Subject"] == subject
    assert message["Message-ID"] == sent[0]["message_id"]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Hi Ada," in html and "Order your favourites again" in html
    assert "utm_source=drip" in html and "/t/c/" not in html and "/t/o/" not in html
    assert rows(rt) == {"campaigns": 0, "campaign_recipients": 0, "messages": 0,
                        "crm_writebacks": 0}
    assert campaigns(smtp_client, account)["spring-sale"]["state"] == "draft"


def test_each_variant_or_the_one_asked_for(
    smtp_client: FlaskClient, account: AccountView, smtp_server: SmtpServer
) -> None:
    both = post_test_send(smtp_client, account, {"to": ["me@acme.example"]}, "weekend-ab")
    assert both.status_code == 200, both.get_json()
    assert [e["variant"] for e in both.get_json()] == ["urgency", "friendly"]
    # Nobody is in the audience yet, and nobody was named.
    assert both.get_json()[0]["contact"]["source"] == "placeholder"
    one = post_test_send(smtp_client, account,
                         {"to": ["me@acme.example"], "variant": "friendly"}, "weekend-ab")
    assert one.status_code == 200
    assert [e["subject"] for e in one.get_json()] == [
        "[Test] A little spring treat for you (20% off, this weekend)"]
    assert len(smtp_server.messages) == 3


def test_an_unknown_campaign_is_404(smtp_client: FlaskClient, account: AccountView,
                                    smtp_server: SmtpServer) -> None:
    response = post_test_send(smtp_client, account, {"to": ["me@acme.example"]}, "nope")
    assert response.status_code == 404
    assert response.get_json()["error"].startswith(
        "no campaign 'nope', started or in the live workspace (campaigns: spring-sale")
    assert smtp_server.messages == []


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"to": ["me@acme.example"], "as": "nobody@example.com"}, "as",
         "has no contact with email 'nobody@example.com'"),
        ({"to": ["me@acme.example"], "as": "999"}, "as", "has no contact with crm_id '999'"),
        ({"to": ["me@acme.example"], "variant": "urgency"}, "variant",
         "campaign spring-sale has no variants"),
        ({"to": ["me@acme.example", "left@example.com"]}, "to",
         "left@example.com is suppressed (unsubscribed)"),
        ({"to": [f"me{n}@acme.example" for n in range(MAX_TEST_ADDRESSES + 1)]}, "to",
         "at most 10"),
        ({"to": ["not an address"]}, "to.0", "not an email address"),
        ({"to": []}, "to", "at least 1"),
        ({}, "to", "Field required"),
        ({"to": ["me@acme.example"], "cc": ["x@y.z"]}, "cc", "Extra inputs"),
    ],
    ids=["unknown-email", "unknown-crm-id", "no-variants", "suppressed", "eleven", "invalid",
         "none", "missing", "unknown-field"],
)
def test_a_refused_test_send_is_422_naming_the_field_and_sends_nothing(
    smtp_client: FlaskClient, account: AccountView, smtp_server: SmtpServer, body: Any,
    field: str, words: str
) -> None:
    response = post_test_send(smtp_client, account, body)
    assert response.status_code == 422
    error = response.get_json()
    assert error["error"] == "invalid request body"
    assert any(d["field"] == field and words in d["message"] for d in error["details"]), error
    assert smtp_server.messages == []


def test_a_template_error_is_422_with_file_and_line(
    rt: Runtime, smtp_client: FlaskClient, account: AccountView, smtp_server: SmtpServer,
    tmp_path: Path
) -> None:
    workspace = copy_of_repo_workspace(tmp_path / "ws")
    (workspace / "templates" / "broken").mkdir()
    (workspace / "templates" / "broken" / "subject.txt").write_text("Hello\n")
    (workspace / "templates" / "broken" / "body.mjml").write_text(
        "<mjml>\n<mj-body>\n{{ contact.x.y.z() }}\n")
    (workspace / "campaigns" / "broken.yaml").write_text(
        "name: Broken\ntemplate: broken\naudience: {segment: engaged}\n")
    deploy(rt, account.id, flows=workspace / "flows", templates=workspace / "templates")
    response = post_test_send(smtp_client, account, {"to": ["me@acme.example"]}, "broken")
    assert response.status_code == 422
    body = response.get_json()
    assert body["template"] == "broken" and body["source"] == "body.mjml" and body["line"] == 3
    assert smtp_server.messages == []


def test_a_mail_server_refusal_is_502_saying_which(
    smtp_client: FlaskClient, account: AccountView, smtp_server: SmtpServer
) -> None:
    smtp_server.sink.reply_for["boss@acme.example"] = "550 5.1.1 no such user"
    response = post_test_send(smtp_client, account,
                              {"to": ["me@acme.example", "boss@acme.example"]})
    assert response.status_code == 502
    assert response.get_json()["error"].startswith(
        "1 of 2 test email(s) not sent: boss@acme.example (no variant): ")
    assert [m["To"] for m in smtp_server.messages] == ["me@acme.example"]


def test_the_test_send_is_in_the_openapi_document(client: FlaskClient) -> None:
    operation = client.get("/v1/openapi.json").get_json()[
        "paths"]["/v1/campaigns/{key}/test-send"]["post"]
    assert operation["operationId"] == "test_send_campaign"
    assert {"200", "400", "401", "404", "413", "415", "422", "502"} <= set(
        operation["responses"])
    document = client.get("/v1/openapi.json").get_json()
    schema = document["components"]["schemas"]["CampaignTestSendIn"]
    assert schema["properties"]["to"]["maxItems"] == MAX_TEST_ADDRESSES  # the service's limit
    assert set(schema["properties"]) == {"to", "as", "variant"}


@pytest.mark.parametrize("body", [
    b'{"to": ["' + b"a" * 2_000_000 + b'@x.example"]}',
    b'{"to": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"to": ["me@acme.example"], "as": {"nested": {"deep": [1, 2, {"x": null}]}}}',
], ids=["huge", "deeply-nested", "as-an-object"])
def test_a_hostile_test_send_body_is_refused_and_sends_nothing(
    rt: Runtime, smtp_client: FlaskClient, account: AccountView, smtp_server: SmtpServer,
    body: bytes
) -> None:
    response = smtp_client.post(f"{SALE}/test-send", data=body, headers={
        **auth(account), "Content-Type": "application/json"})
    assert response.status_code in (400, 413, 422), response.get_data(as_text=True)[:200]
    assert "error" in response.get_json()
    assert smtp_server.messages == []
