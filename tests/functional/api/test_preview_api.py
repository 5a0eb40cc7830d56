"""POST /v1/templates/{name}/preview: the merge context of a real send, scoped to the key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from connector.runtime import Runtime
from connector.services.accounts import AccountView
from tests.functional.api.conftest import auth
from tests.support.mail import outbox
from tests.support.paths import ROOT
from tests.support.workspaces import deploy

PREVIEW = "/v1/templates/{}/preview"


def preview(client: FlaskClient, account: AccountView, name: str, body: object):  # type: ignore[no-untyped-def]
    return client.post(PREVIEW.format(name), json=body, headers=auth(account))


def test_a_stored_contact_renders_like_the_sent_email(
    rt: Runtime, client: FlaskClient, account: AccountView, ada: None
) -> None:
    (sent,) = outbox(rt)
    for contact in ({"email": "ADA@example.com"}, {"crm_id": "501"}):
        response = preview(client, account, "welcome", {"contact": contact})
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["subject"] == sent["Subject"] == "Welcome, Ada"
        assert "Welcome, Ada!" in body["html"] and "Welcome, Ada!" in body["text"]


def test_another_accounts_contact_is_not_found(
    client: FlaskClient, other_account: AccountView, ada: None
) -> None:
    response = preview(client, other_account, "welcome", {"contact": {"crm_id": "501"}})
    assert response.status_code == 404
    assert response.get_json() == {"error": "no contact with crm_id '501'"}


def test_a_hypothetical_contact_and_an_event(client: FlaskClient, account: AccountView) -> None:
    body = {
        "contact": {"email": "grace@example.com", "properties": {"firstname": "Grace"}},
        "event": {
            "name": "order.completed",
            "properties": {
                "order_id": "1001",
                "total": "59.00",
                "items": [{"name": "Desk", "quantity": 1, "price": "59.00"}],
            },
        },
    }
    response = preview(client, account, "order-thanks", body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["subject"] == "Thanks for your order 1001"
    assert "Desk" in response.get_json()["html"]
    # Nothing was stored.
    lookup = client.get("/v1/contacts/activity?email=grace@example.com", headers=auth(account))
    assert lookup.status_code == 404


def test_unknown_template_is_404(client: FlaskClient, account: AccountView) -> None:
    response = preview(client, account, "nope", {"contact": {"properties": {}}})
    assert response.status_code == 404
    assert response.get_json() == {"error": "no template 'nope'"}


def test_a_template_error_is_422_with_file_and_line(
    rt: Runtime, client: FlaskClient, account: AccountView, tmp_path: Path
) -> None:
    root = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", root)
    (root / "broken").mkdir()
    (root / "broken" / "subject.txt").write_text("Hello\n")
    (root / "broken" / "body.mjml").write_text("<mjml>\n<mj-body>\n{{ contact.x.y.z() }}\n")
    report = deploy(rt, account.id, templates=root)
    assert report.templates.added == ["broken"]
    assert any(w.startswith("templates/broken/body.mjml:3: ") for w in report.warnings)
    response = preview(client, account, "broken", {"contact": {"properties": {}}})
    assert response.status_code == 422
    body = response.get_json()
    assert body["template"] == "broken" and body["source"] == "body.mjml" and body["line"] == 3
    assert body["error"].startswith("template 'broken' (body.mjml, line 3): ")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "contact"),
        ({"contact": {}}, "contact"),
        ({"contact": {"email": "not-an-email"}}, "contact.email"),
        ({"contact": {"properties": {}}, "event": {"name": "Bad Name"}}, "event.name"),
        ({"contact": {"properties": {}}, "surprise": 1}, "surprise"),
        ([1, 2], "(body)"),
    ],
)
def test_invalid_bodies_are_422_naming_the_field(
    client: FlaskClient, account: AccountView, body: object, field: str
) -> None:
    response = preview(client, account, "welcome", body)
    assert response.status_code == 422
    error = response.get_json()
    assert error["error"] == "invalid request body"
    assert field in [d["field"] for d in error["details"]] or field == "(body)"


@pytest.mark.parametrize("data", [b'{"contact": ', b"", b'{"contact": {"properties": {"x": NaN}}}'])
def test_malformed_json_is_400(client: FlaskClient, account: AccountView, data: bytes) -> None:
    response = client.post(
        PREVIEW.format("welcome"),
        data=data,
        headers={**auth(account), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("body is not valid JSON")


def test_deeply_nested_json_is_400_not_500(client: FlaskClient, account: AccountView) -> None:
    data = b'{"contact": {"properties": {"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}}"
    response = client.post(
        PREVIEW.format("welcome"),
        data=data,
        headers={**auth(account), "Content-Type": "application/json"},
    )
    assert response.status_code == 400


def test_not_json_is_415(client: FlaskClient, account: AccountView) -> None:
    response = client.post(
        PREVIEW.format("welcome"),
        data=b'{"contact": {"properties": {}}}',
        headers={**auth(account), "Content-Type": "text/plain"},
    )
    assert response.status_code == 415


def test_oversized_body_is_413(rt: Runtime, client: FlaskClient, account: AccountView) -> None:
    filler = "x" * rt.settings.max_event_bytes
    response = preview(client, account, "welcome", {"contact": {"properties": {"a": filler}}})
    assert response.status_code == 413
    assert response.get_json()["error"].startswith("body larger than")
