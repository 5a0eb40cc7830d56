"""The Salesforce emulator's OAuth web-server flow with PKCE over real HTTP: consent
redirect, code -> tokens, identity URL, refresh, revoked org, error shapes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from simple_salesforce import Salesforce

from devcrm.salesforce import Org, SalesforceEmulator, plain_http_session

REDIRECT = "http://127.0.0.1:9/oauth/salesforce/callback"


@pytest.fixture
def sf_emu() -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator(client_id="ck", client_secret="cs") as emulator:
        yield emulator


@pytest.fixture
def sf_org(sf_emu: SalesforceEmulator) -> Org:
    return sf_emu.add_org()


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(
        b"=").decode()


def _authorize(emu: SalesforceEmulator, verifier: str) -> str:
    answer = requests.get(f"{emu.url}/services/oauth2/authorize", allow_redirects=False,
                          timeout=10, params={
                              "response_type": "code", "client_id": "ck",
                              "redirect_uri": REDIRECT, "state": "st-1",
                              "code_challenge": _challenge(verifier),
                              "code_challenge_method": "S256"})
    assert answer.status_code == 302
    location = urlparse(answer.headers["Location"])
    assert location.path == "/oauth/salesforce/callback"
    query = parse_qs(location.query)
    assert query["state"] == ["st-1"]
    return query["code"][0]


def _token(emu: SalesforceEmulator, **form: str) -> requests.Response:
    return requests.post(f"{emu.url}/services/oauth2/token", timeout=10,
                         data={"client_id": "ck", "client_secret": "cs", **form})


def test_code_to_tokens_to_refresh(sf_emu: SalesforceEmulator, sf_org: Org) -> None:
    verifier = secrets.token_urlsafe(48)
    code = _authorize(sf_emu, verifier)
    grant = _token(sf_emu, grant_type="authorization_code", code=code,
                   redirect_uri=REDIRECT, code_verifier=verifier).json()
    assert set(grant) >= {"access_token", "refresh_token", "instance_url", "id", "issued_at",
                          "signature", "token_type"}
    assert grant["instance_url"] == sf_emu.url
    assert grant["id"] == f"{sf_emu.url}/id/{sf_org.org_id}/{sf_org.user_id}"
    signed = (grant["id"] + grant["issued_at"]).encode()
    expected = base64.b64encode(hmac.new(b"cs", signed, hashlib.sha256).digest()).decode()
    assert grant["signature"] == expected
    identity = requests.get(grant["id"], timeout=10,
                            headers={"Authorization": f"Bearer {grant['access_token']}"})
    assert identity.json()["organization_id"] == sf_org.org_id
    sf = Salesforce(instance_url=grant["instance_url"], session_id=grant["access_token"],
                    session=plain_http_session())
    assert sf.query("SELECT Id FROM Contact")["totalSize"] == 0
    refreshed = _token(sf_emu, grant_type="refresh_token",
                       refresh_token=grant["refresh_token"]).json()
    assert "refresh_token" not in refreshed and refreshed["access_token"] != grant["access_token"]
    # a code works once
    again = _token(sf_emu, grant_type="authorization_code", code=code,
                   redirect_uri=REDIRECT, code_verifier=verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_a_wrong_code_verifier_is_invalid_grant(sf_emu: SalesforceEmulator, sf_org: Org) -> None:
    code = _authorize(sf_emu, "right-verifier-" + "x" * 40)
    answer = _token(sf_emu, grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
                    code_verifier="wrong-verifier-" + "x" * 40)
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_grant", "error_description": "invalid code verifier"}


def test_a_revoked_org_refresh_is_invalid_grant(sf_emu: SalesforceEmulator, sf_org: Org) -> None:
    code = sf_emu.issue_code(sf_org)
    grant = _token(sf_emu, grant_type="authorization_code", code=code).json()
    sf_emu.revoke(sf_org)
    answer = _token(sf_emu, grant_type="refresh_token", refresh_token=grant["refresh_token"])
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    query = requests.get(f"{sf_emu.url}/services/data/v59.0/query", params={"q": "SELECT Id "
                         "FROM Contact"}, timeout=10,
                         headers={"Authorization": f"Bearer {grant['access_token']}"})
    assert query.status_code == 401 and query.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_a_wrong_client_secret_is_refused(sf_emu: SalesforceEmulator, sf_org: Org) -> None:
    code = sf_emu.issue_code(sf_org)
    answer = _token(sf_emu, grant_type="authorization_code", code=code, client_secret="nope")
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_client"
