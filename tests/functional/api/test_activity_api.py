"""GET /v1/contacts/{crm_id}/activity and ?email=: the CRM app card's data."""

from __future__ import annotations

from flask.testing import FlaskClient

from connector.services.accounts import AccountView
from tests.functional.api.conftest import auth


def test_flows_emails_and_opens_of_a_contact(
    client: FlaskClient, account: AccountView, ada: None
) -> None:
    response = client.get("/v1/contacts/501/activity", headers=auth(account))
    assert response.status_code == 200
    body = response.get_json()
    assert body["contact"] == {"email": "ada@example.com", "crm_id": "501"}
    (flow,) = body["flows"]
    assert flow["flow"] == "welcome" and flow["state"] == "active"
    assert flow["entered_at"] and flow["finished_at"] is None and flow["exit_reason"] is None
    (email,) = body["emails"]
    assert email["template"] == "welcome" and email["status"] == "sent"
    assert email["subject"] == "Welcome, Ada" and email["sent_at"]
    (opened,) = body["engagement"]
    assert opened["kind"] == "open" and opened["message"] == email["id"]
    assert opened["template"] == "welcome" and opened["occurred_at"]
    by_email = client.get("/v1/contacts/activity?email=Ada@Example.com", headers=auth(account))
    assert by_email.status_code == 200 and by_email.get_json() == body


def test_another_account_sees_nothing(
    client: FlaskClient, other_account: AccountView, ada: None
) -> None:
    for path in ("/v1/contacts/501/activity", "/v1/contacts/activity?email=ada@example.com"):
        response = client.get(path, headers=auth(other_account))
        assert response.status_code == 404
    assert response.get_json() == {"error": "no contact with email 'ada@example.com'"}


def test_limit_and_bad_queries(client: FlaskClient, account: AccountView, ada: None) -> None:
    response = client.get("/v1/contacts/501/activity?limit=0", headers=auth(account))
    assert response.status_code == 422
    assert response.get_json()["error"] == "invalid query parameters"
    assert response.get_json()["details"][0]["field"] == "limit"
    response = client.get("/v1/contacts/activity", headers=auth(account))
    assert response.status_code == 422
    assert response.get_json()["details"][0]["field"] == "email"


def test_unknown_contact_is_404(client: FlaskClient, account: AccountView) -> None:
    response = client.get("/v1/contacts/nobody/activity", headers=auth(account))
    assert response.status_code == 404
    assert response.get_json() == {"error": "no contact with crm_id 'nobody'"}
