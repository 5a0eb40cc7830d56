"""Admin API fixtures: two accounts, one with a contact who got the welcome email and
opened it (real events, real workers, real tracking endpoint)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from connector.runtime import Runtime
from connector.services.accounts import AccountView, connect_account
from connector.workspaces import deploy_default
from tests.support.jobs import work
from tests.support.mail import outbox

ADA = {
    "contact": {"email": "ada@example.com", "crm_id": "501", "properties": {"firstname": "Ada"}},
    "event": "signed_up",
}


def auth(account: AccountView) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.api_key}"}


@pytest.fixture
def other_account(rt: Runtime) -> AccountView:
    with rt.db.session() as session:
        view, _ = connect_account(
            session,
            rt.vault,
            provider="salesforce",
            external_id="00D000000000002EAA",
            access_token="other-token",
            instance_url="https://other.my.salesforce.com",
            name="Other org",
            now=rt.clock.now(),
        )
    deploy_default(rt.db, rt.settings, view.id, rt.clock.now())
    return view


@pytest.fixture
def ada(rt: Runtime, client: FlaskClient, account: AccountView) -> None:
    """Ada signed up, got the welcome email and opened it."""
    response = client.post("/v1/events", json=ADA, headers=auth(account))
    assert response.status_code == 202
    work(rt)
    (message,) = outbox(rt)
    html = message.get_body(("html",)).get_content()
    pixel = next(u for u in re.findall(r'src="([^"]+)"', html) if "/t/o/" in u)
    assert client.get(urlsplit(pixel).path).status_code == 200
