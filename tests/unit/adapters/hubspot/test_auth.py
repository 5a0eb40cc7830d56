"""The pure parts of HubSpot OAuth: the consent URL and reading a token answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.errors import DisconnectedError, PermanentCRMError
from adapters.hubspot.auth import HubSpotOAuth, authorize_url, parse_token_response
from adapters.port import Credentials
from connector.clock import VirtualClock

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
AUTH = "https://app.hubspot.com/oauth/authorize"


def test_authorize_url_space_separates_scopes_as_percent_20() -> None:
    url = authorize_url(AUTH, client_id="cid-1", redirect_uri="https://drip.example.com/oauth/hubspot/callback",
                        scopes=["oauth", "crm.objects.contacts.read"],
                        optional_scopes=["automation"], state="st/ate+1")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == AUTH
    assert "scope=oauth%20crm.objects.contacts.read" in parts.query
    assert "+" not in parts.query
    assert parse_qs(parts.query) == {
        "client_id": ["cid-1"],
        "redirect_uri": ["https://drip.example.com/oauth/hubspot/callback"],
        "scope": ["oauth crm.objects.contacts.read"],
        "optional_scope": ["automation"],
        "state": ["st/ate+1"],
    }


def test_authorize_url_leaves_out_empty_optional_scopes_and_keeps_an_existing_query() -> None:
    url = authorize_url("http://127.0.0.1:9/oauth/authorize?hub_id=7", client_id="c",
                        redirect_uri="http://x/cb", scopes=["oauth"], state="s")
    query = parse_qs(urlsplit(url).query)
    assert query == {"hub_id": ["7"], "client_id": ["c"], "redirect_uri": ["http://x/cb"],
                     "scope": ["oauth"], "state": ["s"]}


def test_the_client_builds_the_same_url_from_its_settings() -> None:
    oauth = HubSpotOAuth("cid", "secret", "https://api.hubapi.com", AUTH, 5.0,
                         clock=VirtualClock(NOW))
    url = oauth.authorize_url("http://x/cb", ["oauth"], [], "abc")
    assert url == authorize_url(AUTH, client_id="cid", redirect_uri="http://x/cb",
                                scopes=["oauth"], state="abc")
    assert "secret" not in url


def test_token_answer_expires_expires_in_seconds_after_now() -> None:
    installed = parse_token_response(
        {"token_type": "bearer", "refresh_token": "na1-r", "hub_id": 62515,
         "scopes": ["oauth", "crm.objects.contacts.read"], "access_token": "AAA-1",
         "expires_in": 1800},
        NOW,
    )
    grant, hub_id, scopes = installed
    assert grant.access_token == "AAA-1"
    assert grant.refresh_token == "na1-r"
    assert grant.expires_at == NOW + timedelta(minutes=30)
    assert hub_id == "62515"
    assert scopes == ("oauth", "crm.objects.contacts.read")


def test_token_answer_in_camel_case_reads_the_same() -> None:
    installed = parse_token_response(
        {"accessToken": "AAA-2", "refreshToken": "r", "expiresIn": 60, "hubId": 9}, NOW
    )
    assert installed.grant.access_token == "AAA-2"
    assert installed.grant.expires_at == NOW + timedelta(seconds=60)
    assert installed.hub_id == "9"
    assert installed.scopes == ()


def test_token_answer_without_an_access_token_is_refused() -> None:
    with pytest.raises(PermanentCRMError, match="no access_token"):
        parse_token_response({"refresh_token": "r", "expires_in": 1800}, NOW)


def test_refreshing_without_a_refresh_token_disconnects_without_asking_hubspot() -> None:
    # Port 9 on 127.0.0.1 (discard) is never asked: the check comes first.
    oauth = HubSpotOAuth("cid", "secret", "http://127.0.0.1:9", AUTH, 1.0,
                         clock=VirtualClock(NOW))
    credentials = Credentials(account_id=1, provider="hubspot", external_id="7",
                              access_token="pat-1", refresh_token=None, expires_at=None)
    with pytest.raises(DisconnectedError, match="no refresh token"):
        oauth.refresh(credentials)
