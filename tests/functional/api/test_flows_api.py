"""GET /v1/flows and pause/resume/archive, and the HTTP edge of the admin API."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from connector.services.accounts import AccountView
from tests.functional.api.conftest import auth


def flows(client: FlaskClient, account: AccountView) -> dict[str, dict]:  # type: ignore[type-arg]
    response = client.get("/v1/flows", headers=auth(account))
    assert response.status_code == 200
    return {f["key"]: f for f in response.get_json()["flows"]}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/v1/flows"),
        ("post", "/v1/flows/welcome/pause"),
        ("post", "/v1/templates/welcome/preview"),
        ("get", "/v1/contacts/501/activity"),
        ("get", "/v1/contacts/activity?email=ada@example.com"),
        ("post", "/v1/workspace"),
    ],
)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer cdk_nope"}, {"X-API-Key": "x"}])
def test_every_endpoint_needs_a_key(
    client: FlaskClient, account: AccountView, method: str, path: str, headers: dict[str, str]
) -> None:
    response = getattr(client, method)(path, headers=headers, data=b"{not json")
    assert response.status_code == 401
    assert response.get_json() == {"error": "missing or unknown API key"}


def test_flows_with_status_and_this_accounts_counts(
    client: FlaskClient, account: AccountView, other_account: AccountView, ada: None
) -> None:
    mine = flows(client, account)
    assert mine["welcome"]["name"] == "Welcome series"
    assert mine["welcome"]["status"] == "active"
    assert mine["welcome"]["version"]
    assert mine["welcome"]["enrollments"] == {"active": 1, "completed": 0, "exited": 0}
    theirs = flows(client, other_account)
    assert theirs["welcome"]["enrollments"] == {"active": 0, "completed": 0, "exited": 0}


def test_pause_resume_archive(client: FlaskClient, account: AccountView) -> None:
    headers = auth(account)
    response = client.post("/v1/flows/welcome/pause", headers={"X-API-Key": account.api_key})
    assert response.status_code == 200
    assert response.get_json()["status"] == "paused"
    assert flows(client, account)["welcome"]["status"] == "paused"
    response = client.post("/v1/flows/welcome/resume", headers=headers)
    assert response.get_json()["status"] == "active"
    assert "resumed" in response.get_json()["message"]
    assert flows(client, account)["welcome"]["status"] == "active"
    assert client.post("/v1/flows/win-back/archive", headers=headers).status_code == 200
    assert flows(client, account)["win-back"]["status"] == "archived"


def test_unknown_flow_is_404(client: FlaskClient, account: AccountView) -> None:
    response = client.post("/v1/flows/nope/pause", headers=auth(account))
    assert response.status_code == 404
    assert response.get_json()["error"].startswith("no flow 'nope' (known: ")


def test_head_and_options_neither_fail_nor_act(client: FlaskClient, account: AccountView) -> None:
    assert client.head("/v1/flows", headers=auth(account)).status_code == 200
    options = client.options("/v1/flows/welcome/pause")
    assert options.status_code == 200 and "POST" in options.headers["Allow"]
    assert client.head("/v1/flows/welcome/pause", headers=auth(account)).status_code == 405
    assert flows(client, account)["welcome"]["status"] == "active"


def test_wrong_method_and_unknown_path_are_json(client: FlaskClient, account: AccountView) -> None:
    response = client.delete("/v1/flows", headers=auth(account))
    assert response.status_code == 405 and "error" in response.get_json()
    response = client.get("/v1/nothing-here", headers=auth(account))
    assert response.status_code == 404 and "error" in response.get_json()


def test_unknown_query_parameters_are_ignored(client: FlaskClient, account: AccountView) -> None:
    assert client.get("/v1/flows?surprise=1", headers=auth(account)).status_code == 200
