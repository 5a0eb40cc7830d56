"""OAuth: consent redirect, code -> tokens (v1 and 2026-03), single-use codes, refresh,
revocation, introspection."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import requests

from devcrm.hubspot import HubSpotEmulator, Portal
from tests.functional.devcrm.conftest import Api

REDIRECT = "https://connector.example/oauth/callback"


def _token(emu: HubSpotEmulator, path: str = "/oauth/v1/token", **form: str) -> requests.Response:
    data = {"client_id": "cid", "client_secret": "secret", **form}
    return requests.post(emu.url + path, data=data, timeout=5)


def _authorize(emu: HubSpotEmulator, **params: Any) -> requests.Response:
    query = {"client_id": "cid", "redirect_uri": REDIRECT,
             "scope": "oauth crm.objects.contacts.read", "state": "s-1", **params}
    return requests.get(emu.url + "/oauth/authorize", params=query, allow_redirects=False,
                        timeout=5)


def test_consent_code_token_refresh_cycle(emu: HubSpotEmulator, portal: Portal) -> None:
    answer = _authorize(emu)
    assert answer.status_code == 302
    location = urlparse(answer.headers["Location"])
    assert location._replace(query="").geturl() == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["s-1"]
    code = query["code"][0]

    first = _token(emu, "/oauth/2026-03/token", grant_type="authorization_code", code=code,
                   redirect_uri=REDIRECT)
    assert first.status_code == 200
    tokens = first.json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 1800
    assert tokens["hub_id"] == portal.hub_id
    assert tokens["scopes"] == ["oauth", "crm.objects.contacts.read"]
    assert Api(emu.url, tokens["access_token"]).get("/crm/v3/objects/contacts").status_code == 200

    again = _token(emu, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert again.status_code == 400 and again.json()["status"] == "BAD_AUTH_CODE"

    refreshed = _token(emu, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refreshed.status_code == 200
    body = refreshed.json()
    assert "hub_id" not in body  # v1 does not say which portal
    assert body["access_token"] != tokens["access_token"]
    info = requests.get(emu.url + f"/oauth/v1/access-tokens/{body['access_token']}", timeout=5)
    assert info.json()["hub_id"] == portal.hub_id and info.json()["app_id"] == emu.app_id

    emu.revoke(portal.hub_id)
    dead = _token(emu, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert dead.status_code == 400
    assert dead.json()["status"] == "BAD_REFRESH_TOKEN"
    assert dead.json()["message"] == "missing or unknown refresh token"
    assert Api(emu.url, body["access_token"]).get("/crm/v3/objects/contacts").status_code == 401


def test_token_errors_have_hubspots_names(emu: HubSpotEmulator, portal: Portal) -> None:
    assert _authorize(emu, client_id="nope").status_code == 400
    code = emu.issue_code(portal.hub_id, redirect_uri=REDIRECT)
    wrong_client = _token(emu, grant_type="authorization_code", code=code, client_id="x")
    assert wrong_client.json()["status"] == "BAD_CLIENT_ID"
    wrong_uri = _token(emu, grant_type="authorization_code", code=code,
                       redirect_uri="https://elsewhere.example/cb")
    assert wrong_uri.json()["status"] == "BAD_REDIRECT_URI"
    unknown = _token(emu, grant_type="authorization_code", code="not-a-code")
    assert (unknown.status_code, unknown.json()["status"]) == (400, "BAD_AUTH_CODE")
    # The code survived the failed attempts.
    ok = _token(emu, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert ok.status_code == 200


def test_oauth_calls_carry_no_daily_headers(emu: HubSpotEmulator, portal: Portal) -> None:
    tokens = _token(emu, "/oauth/v3/token", grant_type="authorization_code",
                    code=emu.issue_code(portal.hub_id)).json()
    headers = Api(emu.url, tokens["access_token"]).get("/crm/v3/objects/contacts").headers
    assert headers["X-HubSpot-RateLimit-Max"] == "1000"
    assert "X-HubSpot-RateLimit-Daily" not in headers
