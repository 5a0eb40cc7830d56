"""The admin API reads JSON bodies with the same strict reader as POST /v1/events."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from connector.services.accounts import AccountView
from tests.functional.api.conftest import auth

PREVIEW = "/v1/templates/welcome/preview"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b'{"contact": {"email": "a@example.com", "email": "b@example.com"}}', "duplicate key"),
        (b'{"contact": {"properties": {"x": ' + b'{"a": ' * 600 + b"1" + b"}" * 603,
         "nested too deeply"),
        (b'{"contact": {"properties": {"x": 1e999}}}', "out of range"),
    ],
    ids=["duplicate-key", "objects-600", "inf-in-disguise"],
)
def test_ambiguous_or_deep_bodies_are_400(
    client: FlaskClient, account: AccountView, data: bytes, words: str
) -> None:
    response = client.post(
        PREVIEW, data=data, headers={**auth(account), "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert words in response.get_json()["error"]
