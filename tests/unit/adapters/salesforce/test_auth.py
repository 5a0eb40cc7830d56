"""The pure parts of Salesforce OAuth: PKCE, the authorize URL, which origins may receive
tokens, the identity URL's org and user, and the token answer's signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.errors import PermanentCRMError
from adapters.salesforce.auth import (
    TokenEndpoint,
    authorize_url,
    identity_ids,
    is_salesforce_origin,
    new_pkce,
    s256,
    token_grant,
)
from adapters.salesforce.ids import to_18

ORG15, USER15 = "00D5g000004abcd", "0055g00000ABCDE"
ORG, USER = to_18(ORG15), to_18(USER15)


def test_s256_is_rfc_7636s_example() -> None:
    assert s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == (
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")


def test_each_pkce_pair_is_new_and_its_verifier_within_rfc_7636s_length() -> None:
    first, second = new_pkce(), new_pkce()
    assert first.verifier != second.verifier
    assert 43 <= len(first.verifier) <= 128
    assert s256(first.verifier) == first.challenge


def test_authorize_url_asks_for_a_code_with_an_s256_challenge() -> None:
    url = authorize_url("https://test.salesforce.com/", client_id="ck",
                        redirect_uri="https://drip.example.com/oauth/salesforce/callback",
                        scopes=["api", "refresh_token"], state="st/ate+1", code_challenge="ch")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://test.salesforce.com/services/oauth2/authorize")
    assert "scope=api%20refresh_token" in parts.query and "+" not in parts.query
    assert parse_qs(parts.query) == {
        "response_type": ["code"], "client_id": ["ck"],
        "redirect_uri": ["https://drip.example.com/oauth/salesforce/callback"],
        "scope": ["api refresh_token"], "state": ["st/ate+1"], "code_challenge": ["ch"],
        "code_challenge_method": ["S256"]}


@pytest.mark.parametrize(("url", "ok"), [
    ("https://login.salesforce.com", True),
    ("https://acme.my.salesforce.com/", True),
    ("http://127.0.0.1:8123", True),
    ("http://localhost:8123", True),
    ("http://acme.my.salesforce.com", False),  # a token in the clear
    ("https://login.salesforce.com/services", False),
    ("https://login.salesforce.com?next=x", False),
    ("https://user@evil.example", False),
    ("ftp://login.salesforce.com", False),
    ("login.salesforce.com", False),
])
def test_only_https_origins_or_loopback_http_may_receive_tokens(url: str, ok: bool) -> None:
    assert is_salesforce_origin(url) is ok


def test_the_identity_url_names_the_org_and_the_user() -> None:
    assert identity_ids(f"https://login.salesforce.com/id/{ORG}/{USER}") == (ORG, USER)
    assert identity_ids(f"https://login.salesforce.com/id/{ORG15}/{USER15}") == (ORG15, USER15)


@pytest.mark.parametrize("url", [
    None,
    f"https://login.salesforce.com/id/{ORG}",
    f"https://login.salesforce.com/id/{ORG}/{USER}/more",
    f"https://login.salesforce.com/ids/{ORG}/{USER}",
    f"https://login.salesforce.com/id/{USER}/{USER}",  # a user id is no org id
    f"https://login.salesforce.com/id/{ORG}/{ORG}",
    f"https://login.salesforce.com/id/{ORG[:15]}AAA/{USER}",  # a wrong checksum
])
def test_an_identity_url_without_an_org_and_a_user_is_refused(url: str | None) -> None:
    with pytest.raises(PermanentCRMError, match="identity URL"):
        identity_ids(url)


def test_a_token_answers_instance_url_must_be_an_origin_tokens_may_go_to() -> None:
    grant = token_grant({"access_token": "a", "instance_url": "https://acme.my.salesforce.com"},
                        what="refresh token")
    assert (grant.access_token, grant.refresh_token, grant.expires_at, grant.instance_url) == (
        "a", None, None, "https://acme.my.salesforce.com")
    with pytest.raises(PermanentCRMError, match="not an https origin"):
        token_grant({"access_token": "a", "instance_url": "http://evil.example"},
                    what="refresh token")


def _signed(secret: str, identity: str, issued_at: str) -> str:
    digest = hmac.new(secret.encode(), (identity + issued_at).encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def test_an_answer_not_signed_with_the_consumer_secret_is_refused() -> None:
    endpoint = TokenEndpoint(login_url="https://login.salesforce.com", client_id="ck",
                             client_secret="cs", timeout=1.0)
    identity = f"https://login.salesforce.com/id/{ORG}/{USER}"
    body = {"id": identity, "issued_at": "1767600000000",
            "signature": _signed("cs", identity, "1767600000000")}
    endpoint.check_signature(body)
    for forged in ({**body, "id": f"https://login.salesforce.com/id/{ORG15[:-1]}X/{USER}"},
                   {**body, "signature": _signed("other", identity, "1767600000000")},
                   {key: value for key, value in body.items() if key != "signature"}):
        with pytest.raises(PermanentCRMError, match="not signed"):
            endpoint.check_signature(forged)
    # Without a secret (a PKCE-only app) there is nothing to check against.
    TokenEndpoint(login_url="https://login.salesforce.com", client_id="ck",
                  client_secret=None, timeout=1.0).check_signature({})
