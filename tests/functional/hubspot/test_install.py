"""The HubSpot install through the real app and the emulator over real sockets: consent
URL, callback, the account recorded with its tokens encrypted, reinstall, bad states."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import select, text

from connector.app import create_app
from connector.models import Account, WorkspaceVersion
from connector.runtime import Runtime
from devcrm.hubspot import HubSpotEmulator
from tests.conftest import MakeRuntime

HUB_ID = 4711
CALLBACK = "https://drip.example.com/oauth/hubspot/callback"


@pytest.fixture
def emu() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(client_id="cid-test", client_secret="secret-test") as emulator:
        emulator.add_portal(hub_id=HUB_ID)
        yield emulator


@pytest.fixture
def oauth_rt(make_runtime: MakeRuntime, emu: HubSpotEmulator) -> Runtime:
    return make_runtime(hubspot_client_id="cid-test", hubspot_client_secret="secret-test",
                        hubspot_api_base=emu.url, hubspot_auth_url=emu.url + "/oauth/authorize",
                        hubspot_optional_scopes="automation")


@pytest.fixture
def web(oauth_rt: Runtime) -> FlaskClient:
    return create_app(oauth_rt).test_client()


def consent(web: FlaskClient) -> str:
    """Start the install and let the emulator's consent screen answer: the callback's
    path and query, as the user's browser would be sent there."""
    started = web.get("/oauth/hubspot/install")
    assert started.status_code == 302
    granted = requests.get(started.headers["Location"], allow_redirects=False, timeout=5)
    assert granted.status_code == 302
    back = urlsplit(granted.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == CALLBACK
    return f"{back.path}?{back.query}"


def accounts(rt: Runtime) -> list[Account]:
    with rt.db.session() as session:
        return list(session.scalars(select(Account)))


def test_install_redirects_to_the_consent_screen_with_the_app_and_a_state(
    web: FlaskClient, emu: HubSpotEmulator, oauth_rt: Runtime
) -> None:
    response = web.get("/oauth/hubspot/install")
    assert response.status_code == 302
    url = urlsplit(response.headers["Location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == emu.url + "/oauth/authorize"
    query = parse_qs(url.query)
    assert query["client_id"] == ["cid-test"]
    assert query["redirect_uri"] == [CALLBACK]
    assert query["scope"] == [oauth_rt.settings.hubspot_scopes]
    assert query["optional_scope"] == ["automation"]
    state = query["state"][0]
    assert len(state) >= 32
    ttl = oauth_rt.redis.ttl(f"oauth:hubspot:state:{state}")
    assert 0 < ttl <= 600
    assert "secret-test" not in response.headers["Location"]


def test_callback_records_the_portal_with_encrypted_tokens_and_the_default_workspace(
    web: FlaskClient, emu: HubSpotEmulator, oauth_rt: Runtime
) -> None:
    response = web.get(consent(web))
    assert response.status_code == 200, response.text
    assert f"Installed for portal {HUB_ID}" in response.text

    [account] = accounts(oauth_rt)
    assert (account.provider, account.external_id, account.status) == (
        "hubspot", str(HUB_ID), "connected")
    assert account.token_expires_at is not None
    assert (account.token_expires_at - oauth_rt.clock.now()).total_seconds() == 1800
    access = oauth_rt.vault.decrypt(account.access_token_encrypted or b"")
    refresh = oauth_rt.vault.decrypt(account.refresh_token_encrypted or b"")
    # The tokens are the emulator's own: they reach the portal.
    assert requests.get(f"{emu.url}/crm/v3/objects/contacts",
                        headers={"Authorization": f"Bearer {access}"}, timeout=5).ok
    assert access not in response.text and refresh not in response.text
    # Encrypted at rest: neither token's bytes are anywhere in the raw row.
    with oauth_rt.db.engine.connect() as connection:
        row = connection.execute(text("SELECT * FROM accounts")).one()
    raw = b"".join(v if isinstance(v, bytes) else str(v).encode() for v in row)
    assert access.encode() not in raw and refresh.encode() not in raw

    assert account.workspace_version == 1
    with oauth_rt.db.session() as session:
        assert session.scalar(select(WorkspaceVersion.account_id)) == account.id


def test_reinstall_updates_the_same_account_and_reconnects_it(
    web: FlaskClient, emu: HubSpotEmulator, oauth_rt: Runtime
) -> None:
    from connector.services.credentials import DatabaseCredentialStore

    assert web.get(consent(web)).status_code == 200
    [first] = accounts(oauth_rt)
    store = DatabaseCredentialStore(oauth_rt.db, oauth_rt.vault, oauth_rt.clock)
    store.disconnect(first.id, "uninstalled")

    again = web.get(consent(web))
    assert again.status_code == 200, again.text
    assert f"Reconnected for portal {HUB_ID}" in again.text
    [account] = accounts(oauth_rt)
    assert account.id == first.id
    assert account.api_key_hash == first.api_key_hash
    assert (account.status, account.disconnected_at, account.disconnect_reason) == (
        "connected", None, None)
    assert store.load(account.id).access_token != oauth_rt.vault.decrypt(
        first.access_token_encrypted or b"")
    assert account.workspace_version == 1  # not deployed twice


def test_a_used_state_is_refused_and_nothing_more_is_written(
    web: FlaskClient, oauth_rt: Runtime
) -> None:
    callback = consent(web)
    assert web.get(callback).status_code == 200
    replay = web.get(callback)
    assert replay.status_code == 400
    assert "already used" in replay.text
    assert len(accounts(oauth_rt)) == 1


@pytest.mark.parametrize("query", ["code=abc", "code=abc&state=", "code=abc&state=made-up"])
def test_a_missing_or_unknown_state_is_refused(
    web: FlaskClient, oauth_rt: Runtime, query: str
) -> None:
    response = web.get(f"/oauth/hubspot/callback?{query}")
    assert response.status_code == 400
    assert "start the install again" in response.text
    assert accounts(oauth_rt) == []


def test_user_denied_answers_400_with_hubspots_message_and_spends_the_state(
    web: FlaskClient, oauth_rt: Runtime
) -> None:
    started = web.get("/oauth/hubspot/install")
    state = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
    # What HubSpot sends the browser back with when the user declines.
    response = web.get("/oauth/hubspot/callback", query_string={
        "error": "access_denied", "error_description": "The user denied <access>",
        "state": state})
    assert response.status_code == 400
    assert "The user denied &lt;access&gt;" in response.text
    assert oauth_rt.redis.exists(f"oauth:hubspot:state:{state}") == 0
    assert accounts(oauth_rt) == []


def test_token_endpoint_failing_answers_502_and_writes_nothing(
    web: FlaskClient, emu: HubSpotEmulator, oauth_rt: Runtime
) -> None:
    callback = consent(web)
    emu.faults.add(status=500, count=1, path_prefix="/oauth/2026-03/token")
    response = web.get(callback)
    assert response.status_code == 502
    assert "answered 500" in response.text
    assert accounts(oauth_rt) == []


def test_a_refused_code_answers_502(web: FlaskClient, oauth_rt: Runtime) -> None:
    callback = consent(web).replace("code=", "code=x")
    response = web.get(callback)
    assert response.status_code == 502
    assert "BAD_AUTH_CODE" in response.text
    assert accounts(oauth_rt) == []


def test_head_neither_makes_nor_spends_a_state(web: FlaskClient, oauth_rt: Runtime) -> None:
    assert web.head("/oauth/hubspot/install").status_code == 200
    assert oauth_rt.redis.keys("oauth:hubspot:state:*") == []
    callback = consent(web)
    assert web.head(callback).status_code == 200
    assert accounts(oauth_rt) == []
    assert web.get(callback).status_code == 200  # the state was still good


def test_without_app_credentials_both_routes_answer_503_naming_them(
    make_runtime: MakeRuntime
) -> None:
    web = create_app(make_runtime(hubspot_client_id=None)).test_client()
    for path in ("/oauth/hubspot/install", "/oauth/hubspot/callback?code=a&state=b"):
        response = web.get(path)
        assert response.status_code == 503
        assert "HUBSPOT_CLIENT_ID" in response.text and "HUBSPOT_CLIENT_SECRET" in response.text
