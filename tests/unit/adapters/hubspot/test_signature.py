"""HubSpot signatures, made by the real client's signer (`hubspot.utils.signature`) and
checked by ours: good ones pass; forged, missing, stale, future, another URI or method
fail with a message saying which."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hubspot.utils.signature import Signature

from adapters.hubspot.signature import (
    SignatureError,
    signed_uri,
    verify_request,
    verify_v1,
    verify_v2,
    verify_v3,
)

SECRET = "client-secret-0123"
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
URI = "https://drip.example.com/webhooks/hubspot"
BODY = '[{"eventId": 1, "portalId": 62515, "subscriptionType": "contact.creation"}]'


def ms(at: datetime) -> str:
    return str(int(at.timestamp() * 1000))


def hubspot_v3(body: str = BODY, *, uri: str = URI, method: str = "POST",
               at: datetime = NOW) -> dict[str, str]:
    timestamp = ms(at)
    signature = Signature.get_signature(SECRET, body, "v3", http_uri=uri, http_method=method,
                                        timestamp=timestamp)
    return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": timestamp}


def check(headers: dict[str, str], *, body: str = BODY, uri: str = URI, method: str = "POST",
          legacy: bool = True) -> str:
    return verify_request(SECRET, headers, method=method, uri=uri, body=body.encode(),
                          now=NOW, legacy=legacy)


def test_a_v3_signature_of_the_real_client_is_valid() -> None:
    assert check(hubspot_v3()) == "v3"


def test_non_ascii_body_is_signed_as_utf8() -> None:
    body = '[{"propertyValue": "Zoë 東京"}]'
    assert check(hubspot_v3(body), body=body) == "v3"


@pytest.mark.parametrize("skew", [timedelta(minutes=-4, seconds=-59), timedelta(minutes=4)])
def test_timestamps_within_five_minutes_pass(skew: timedelta) -> None:
    assert check(hubspot_v3(at=NOW + skew)) == "v3"


@pytest.mark.parametrize(
    ("skew", "words"),
    [(timedelta(minutes=-5, seconds=-1), "old"), (timedelta(minutes=5, seconds=1), "future"),
     (timedelta(days=-1), "old"), (timedelta(days=365), "future")],
)
def test_stale_and_future_timestamps_fail(skew: timedelta, words: str) -> None:
    with pytest.raises(SignatureError, match=words):
        check(hubspot_v3(at=NOW + skew))


def test_a_forged_signature_fails() -> None:
    headers = hubspot_v3()
    forged = Signature.get_signature("another-secret", BODY, "v3", http_uri=URI,
                                     timestamp=headers["X-HubSpot-Request-Timestamp"])
    with pytest.raises(SignatureError, match="does not match"):
        check({**headers, "X-HubSpot-Signature-v3": forged})


def test_another_body_fails() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        check(hubspot_v3(), body=BODY.replace("62515", "62516"))


def test_a_replayed_signature_with_a_fresh_timestamp_fails() -> None:
    headers = hubspot_v3(at=NOW - timedelta(hours=1))
    with pytest.raises(SignatureError, match="does not match"):
        check({**headers, "X-HubSpot-Request-Timestamp": ms(NOW)})


def test_another_uri_fails() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        check(hubspot_v3(uri="https://evil.example.com/webhooks/hubspot"))


def test_another_method_fails() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        check(hubspot_v3(method="GET"))


@pytest.mark.parametrize(
    ("drop", "words"),
    [("X-HubSpot-Signature-v3", "missing X-HubSpot-Signature-v3"),
     ("X-HubSpot-Request-Timestamp", "missing X-HubSpot-Request-Timestamp")],
)
def test_a_missing_header_fails_naming_it(drop: str, words: str) -> None:
    headers = hubspot_v3()
    del headers[drop]
    with pytest.raises(SignatureError, match=words):
        check(headers)


def test_no_signature_at_all_fails() -> None:
    with pytest.raises(SignatureError, match="missing"):
        check({})


@pytest.mark.parametrize("timestamp", ["soon", "-1000", "1e12", "9" * 40, "١٢٣"])
def test_a_timestamp_that_is_not_epoch_ms_fails(timestamp: str) -> None:
    headers = {**hubspot_v3(), "X-HubSpot-Request-Timestamp": timestamp}
    with pytest.raises(SignatureError, match="not milliseconds"):
        check(headers)


@pytest.mark.parametrize("signature", ["", "x" * 10_000, "é" * 44, "sha256=abc"])
def test_odd_signatures_fail(signature: str) -> None:
    headers = {**hubspot_v3(), "X-HubSpot-Signature-v3": signature}
    with pytest.raises(SignatureError):
        check(headers)


def test_the_signed_uri_decodes_hubspots_listed_escapes_only() -> None:
    uri = signed_uri("https://drip.example.com/", "/v1/contacts/7/activity",
                     b"portalId=62515&email=a%40b.example&next=%2Fx%3Fy%3Dz&q=a%20b&c=%2c")
    assert uri == ("https://drip.example.com/v1/contacts/7/activity"
                   "?portalId=62515&email=a@b.example&next=/x?y%3Dz&q=a%20b&c=,")
    assert signed_uri("https://drip.example.com", "/webhooks/hubspot", b"") == URI


def test_a_query_as_hubspot_signed_it_verifies() -> None:
    # HubSpot signs the decoded form; the request arrives with the escapes.
    query = b"portalId=62515&userId=9&email=a%40b.example"
    uri = signed_uri("https://drip.example.com", "/v1/contacts/7/activity", query)
    headers = hubspot_v3("", uri="https://drip.example.com/v1/contacts/7/activity"
                         "?portalId=62515&userId=9&email=a@b.example", method="GET")
    assert check(headers, body="", uri=uri, method="GET") == "v3"


def test_v1_and_v2_signatures_of_the_real_client_are_valid() -> None:
    v1 = Signature.get_signature(SECRET, BODY, "v1")
    v2 = Signature.get_signature(SECRET, BODY, "v2", http_uri=URI, http_method="POST")
    verify_v1(SECRET, body=BODY.encode(), signature=v1)
    verify_v2(SECRET, method="POST", uri=URI, body=BODY.encode(), signature=v2)
    assert check({"X-HubSpot-Signature": v1, "X-HubSpot-Signature-Version": "v1"}) == "v1"
    assert check({"X-HubSpot-Signature": v2, "X-HubSpot-Signature-Version": "v2"}) == "v2"


def test_forged_v1_and_v2_signatures_fail() -> None:
    v1 = Signature.get_signature("another", BODY, "v1")
    v2 = Signature.get_signature(SECRET, BODY, "v2", http_uri=URI, http_method="GET")
    with pytest.raises(SignatureError, match="v1 signature does not match"):
        check({"X-HubSpot-Signature": v1, "X-HubSpot-Signature-Version": "v1"})
    with pytest.raises(SignatureError, match="v2 signature does not match"):
        check({"X-HubSpot-Signature": v2, "X-HubSpot-Signature-Version": "v2"})
    with pytest.raises(SignatureError, match="unknown"):
        check({"X-HubSpot-Signature": v1, "X-HubSpot-Signature-Version": "v9"})


def test_without_legacy_only_v3_counts() -> None:
    v1 = Signature.get_signature(SECRET, BODY, "v1")
    with pytest.raises(SignatureError, match="missing X-HubSpot-Signature-v3"):
        check({"X-HubSpot-Signature": v1, "X-HubSpot-Signature-Version": "v1"}, legacy=False)


def test_v3_is_checked_when_present_even_beside_a_valid_v1() -> None:
    v1 = Signature.get_signature(SECRET, BODY, "v1")
    headers = {**hubspot_v3(at=NOW - timedelta(hours=1)), "X-HubSpot-Signature": v1}
    with pytest.raises(SignatureError, match="old"):
        check(headers)


def test_verify_v3_directly() -> None:
    headers = hubspot_v3()
    verify_v3(SECRET, method="post", uri=URI, body=BODY.encode(), now=NOW,
              signature=headers["X-HubSpot-Signature-v3"],
              timestamp=headers["X-HubSpot-Request-Timestamp"])
