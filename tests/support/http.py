"""Requests the way a customer's systems make them."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from connector.services.accounts import AccountView


def post(client: FlaskClient, account: AccountView, body: dict[str, Any], **headers: str
         ) -> TestResponse:
    """POST a behaviour event to /v1/events with the account's API key."""
    return client.post(
        "/v1/events", json=body, headers={"Authorization": f"Bearer {account.api_key}", **headers}
    )
