"""The HubSpot app card's `hubspot.fetch` calls: GET /v1/contacts/.../activity signed by
HubSpot (v3, the app's client secret) instead of carrying our API key. The account is the
connected portal the signed portalId names; nothing else accepts the signature."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from hubspot.utils.signature import Signature
from sqlalchemy import update

from connector.app import create_app
from connector.models import Account
from connector.runtime import Runtime
from connector.services.accounts import AccountView
from tests.conftest import MakeAccount, MakeRuntime
from tests.functional.api.conftest import ADA, auth
from tests.support.jobs import work

SECRET = "hubspot-client-secret-for-tests"
PUBLIC = "https://drip.example.com"  # PUBLIC_BASE_URL of the test settings
PORTAL = "1000001"  # the `account` fixture's portal
USER = "7001"


@pytest.fixture
def rt(make_runtime: MakeRuntime) -> Runtime:
    return make_runtime(hubspot_client_secret=SECRET)


def signed(rt: Runtime, url: str, *, method: str = "GET", secret: str = SECRET,
           skew_ms: int = 0, signed_url: str | None = None) -> dict[str, str]:
    """The headers hubspot.fetch sends: a v3 signature of the public URL it called."""
    timestamp = str(int(rt.clock.now().timestamp() * 1000) + skew_ms)
    signature = Signature.get_signature(secret, "", "v3", http_uri=PUBLIC + (signed_url or url),
                                        http_method=method, timestamp=timestamp)
    return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": timestamp}


def card_url(crm_id: str = "501", portal: str = PORTAL) -> str:
    return f"/v1/contacts/{crm_id}/activity?portalId={portal}&userId={USER}"


def get(rt: Runtime, client: FlaskClient, url: str, **sign: Any) -> Any:
    return client.get(url, headers=signed(rt, url, **sign))


def test_a_signed_card_request_reads_its_portals_contact(
    rt: Runtime, client: FlaskClient, account: AccountView, ada: None
) -> None:
    response = get(rt, client, card_url())
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["contact"] == {"email": "ada@example.com", "crm_id": "501"}
    assert [e["template"] for e in body["emails"]] == ["welcome"]
    # The same answer the API key gets.
    keyed = client.get("/v1/contacts/501/activity", headers=auth(account))
    assert keyed.get_json() == body


def test_the_lookup_by_email_accepts_it_too(
    rt: Runtime, client: FlaskClient, ada: None
) -> None:
    url = f"/v1/contacts/activity?email=ada%40example.com&portalId={PORTAL}&userId={USER}"
    # HubSpot signs the URI with %40 decoded.
    response = client.get(url, headers=signed(rt, url, signed_url=url.replace("%40", "@")))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["contact"]["email"] == "ada@example.com"


def test_a_signature_for_portal_a_never_reads_portal_b(
    rt: Runtime, client: FlaskClient, make_account: MakeAccount, ada: None
) -> None:
    other = make_account("2000002", name="Portal B")
    grace = {"event": ADA["event"], "contact": {"email": "grace@example.com", "crm_id": "501"}}
    assert client.post("/v1/events", json=grace, headers=auth(other)).status_code == 202
    work(rt)
    # B's own signed request sees B's contact 501 (Grace), A's sees Ada.
    as_b = get(rt, client, card_url(portal="2000002"))
    assert as_b.status_code == 200 and as_b.get_json()["contact"]["email"] == "grace@example.com"
    as_a = get(rt, client, card_url())
    assert as_a.get_json()["contact"]["email"] == "ada@example.com"
    # A's signature with the portal changed to B's is no signature at all.
    response = client.get(card_url(portal="2000002"), headers=signed(rt, card_url()))
    assert response.status_code == 401
    assert "does not match" in response.get_json()["error"]


@pytest.mark.parametrize(
    ("sign", "words"),
    [
        ({"secret": "another-apps-secret"}, "does not match"),
        ({"skew_ms": -6 * 60 * 1000}, "old"),
        ({"skew_ms": 6 * 60 * 1000}, "future"),
        ({"method": "POST"}, "does not match"),
        ({"signed_url": "/v1/contacts/502/activity?portalId=1000001&userId=7001"},
         "does not match"),
    ],
    ids=["forged", "stale", "future", "other-method", "other-uri"],
)
def test_an_invalid_signature_is_401_even_beside_a_valid_key(
    rt: Runtime, client: FlaskClient, account: AccountView, ada: None,
    sign: dict[str, Any], words: str,
) -> None:
    url = card_url()
    response = client.get(url, headers={**signed(rt, url, **sign), **auth(account)})
    assert response.status_code == 401
    assert words in response.get_json()["error"]


def test_a_signature_without_its_timestamp_is_401(
    rt: Runtime, client: FlaskClient, ada: None
) -> None:
    url = card_url()
    headers = signed(rt, url)
    del headers["X-HubSpot-Request-Timestamp"]
    response = client.get(url, headers=headers)
    assert response.status_code == 401
    assert "X-HubSpot-Request-Timestamp" in response.get_json()["error"]


def test_an_unconnected_or_disconnected_portal_is_401(
    rt: Runtime, client: FlaskClient, account: AccountView, ada: None
) -> None:
    response = get(rt, client, card_url(portal="3000003"))
    assert response.status_code == 401
    assert response.get_json() == {"error": "HubSpot portal 3000003 is not connected"}
    with rt.db.session() as session:
        session.execute(update(Account).where(Account.id == account.id)
                        .values(status="disconnected"))
    assert get(rt, client, card_url()).status_code == 401


def test_a_signed_request_must_name_one_portal(
    rt: Runtime, client: FlaskClient, ada: None
) -> None:
    for url in ("/v1/contacts/501/activity?userId=7001",
                f"/v1/contacts/501/activity?portalId={PORTAL}&portalId=2000002",
                "/v1/contacts/501/activity?portalId=abc"):
        response = get(rt, client, url)
        assert response.status_code == 400, url
        assert "portalId" in response.get_json()["error"]


def test_the_api_key_path_is_unchanged(
    client: FlaskClient, account: AccountView, ada: None
) -> None:
    assert client.get("/v1/contacts/501/activity", headers=auth(account)).status_code == 200
    assert client.get("/v1/contacts/501/activity").status_code == 401


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/flows"), ("POST", "/v1/flows/welcome/pause"),
     ("POST", "/v1/flows/welcome/resume"), ("POST", "/v1/workspace")],
)
def test_no_other_endpoint_accepts_a_hubspot_signature(
    rt: Runtime, client: FlaskClient, account: AccountView, method: str, path: str
) -> None:
    url = f"{path}?portalId={PORTAL}&userId={USER}"
    response = client.open(url, method=method, headers=signed(rt, url, method=method))
    assert response.status_code == 401
    assert response.get_json() == {"error": "missing or unknown API key"}


def test_without_a_client_secret_signed_requests_are_refused(
    make_runtime: MakeRuntime, rt: Runtime, ada: None
) -> None:
    unconfigured = make_runtime(hubspot_client_secret=None)
    client = create_app(unconfigured).test_client()
    response = get(unconfigured, client, card_url())
    assert response.status_code == 401
    assert "HUBSPOT_CLIENT_SECRET" in response.get_json()["error"]
