"""POST /webhooks/hubspot as an attacker or a broken sender: a bad, missing, stale or
future signature is 401, a body that is not HubSpot's JSON array 400, a body past the
limit 413 (chunked too), each with a message, and nothing is stored after any of them."""

from __future__ import annotations

import io
import json

import pytest
from flask.testing import FlaskClient
from hubspot.utils.signature import Signature

from connector.app import create_app
from connector.runtime import Runtime
from tests.conftest import MakeAccount, MakeRuntime
from tests.functional.http.test_hubspot_webhook import (
    PATH,
    SECRET,
    inbox,
    post,
    signed,
    unrouted,
)
from tests.unit.adapters.hubspot.fixtures import PORTAL, fixture

BODY = json.dumps(fixture("contact_creation"))
FIVE_MINUTES_MS = 5 * 60 * 1000


@pytest.fixture
def rt(make_runtime: MakeRuntime) -> Runtime:
    return make_runtime(hubspot_client_secret=SECRET)


@pytest.fixture(autouse=True)
def portal(make_account: MakeAccount) -> None:
    make_account(PORTAL, deploy=False)


def assert_nothing_stored(rt: Runtime) -> None:
    assert inbox(rt) == [] and unrouted(rt) == []
    assert rt.queues["events"].count == 0


def test_the_good_request_these_are_variations_of_is_stored(
    rt: Runtime, client: FlaskClient
) -> None:
    assert post(rt, client, BODY).status_code == 200
    assert len(inbox(rt)) == 1


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"secret": "another-apps-secret"}, "does not match"),
        ({"skew_ms": -FIVE_MINUTES_MS - 1000}, "old"),
        ({"skew_ms": -24 * 3600 * 1000}, "old"),
        ({"skew_ms": FIVE_MINUTES_MS + 1000}, "future"),
        ({"path": "/webhooks/hubspot-other"}, "does not match"),
        ({"method": "PUT"}, "does not match"),
    ],
    ids=["forged", "stale", "a-day-old", "future", "other-uri", "other-method"],
)
def test_bad_signatures_are_401_naming_why(
    rt: Runtime, client: FlaskClient, change: dict[str, object], words: str
) -> None:
    response = post(rt, client, BODY, **change)
    assert response.status_code == 401
    assert words in response.get_json()["error"]
    assert_nothing_stored(rt)


def test_a_signature_of_another_body_is_401(rt: Runtime, client: FlaskClient) -> None:
    headers = signed(rt, BODY)
    response = client.post(PATH, data=BODY.replace("1246978", "1246979"), headers=headers)
    assert response.status_code == 401
    assert_nothing_stored(rt)


@pytest.mark.parametrize(
    ("drop", "words"),
    [({"X-HubSpot-Signature-v3"}, "missing X-HubSpot-Signature-v3"),
     ({"X-HubSpot-Request-Timestamp"}, "missing X-HubSpot-Request-Timestamp"),
     ({"X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp"}, "missing")],
)
def test_missing_headers_are_401_naming_them(
    rt: Runtime, client: FlaskClient, drop: set[str], words: str
) -> None:
    headers = {k: v for k, v in signed(rt, BODY).items() if k not in drop}
    response = client.post(PATH, data=BODY, headers=headers)
    assert response.status_code == 401
    assert words in response.get_json()["error"]
    assert_nothing_stored(rt)


def test_a_forged_v1_signature_is_401(rt: Runtime, client: FlaskClient) -> None:
    headers = {"X-HubSpot-Signature": Signature.get_signature("guess", BODY, "v1"),
               "X-HubSpot-Signature-Version": "v1"}
    response = client.post(PATH, data=BODY, headers=headers)
    assert response.status_code == 401
    assert_nothing_stored(rt)


def test_without_a_client_secret_webhooks_are_401_saying_what_to_set(
    make_runtime: MakeRuntime, rt: Runtime
) -> None:
    unconfigured = make_runtime(hubspot_client_secret=None)
    client = create_app(unconfigured).test_client()
    response = post(unconfigured, client, BODY)
    assert response.status_code == 401
    assert response.get_json() == {
        "error": "webhooks are not configured: set HUBSPOT_CLIENT_SECRET"}
    assert_nothing_stored(unconfigured)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('[{"eventId": 1,', "not valid JSON"),
        (b"\xff\xfe[]", "not valid JSON"),
        ("", "not valid JSON"),
        ('[{"eventId": NaN}]', "NaN"),
        ('[{"occurredAt": Infinity}]', "Infinity"),
        ('[{"portalId": 1, "portalId": 2}]', "duplicate key 'portalId'"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("[" + '{"a": ' * 40 + "1" + "}" * 40 + "]", "nested too deeply"),
        ('[{"propertyValue": "a\\u0000b"}]', "NUL"),
        ('{"eventId": 1}', "JSON array"),
        ("null", "JSON array"),
        ('[{"eventId": 1}, 7]', "JSON array"),
        ('[[{"eventId": 1}]]', "JSON array"),
    ],
    ids=["truncated", "not-utf8", "empty", "nan", "infinity", "duplicate-key", "arrays-deep",
         "objects-deep", "nul", "an-object", "null", "a-number-inside", "nested-array"],
)
def test_signed_bodies_that_are_not_a_json_array_of_objects_are_400(
    rt: Runtime, client: FlaskClient, body: str | bytes, words: str
) -> None:
    response = post(rt, client, body)
    assert response.status_code == 400
    assert words in response.get_json()["error"]
    assert_nothing_stored(rt)


def _too_large() -> str:
    (event,) = fixture("contact_propertyChange")
    return json.dumps([{**event, "propertyValue": "x" * (1024 * 1024)}])


def test_a_body_over_the_limit_is_413(rt: Runtime, client: FlaskClient) -> None:
    body = _too_large()
    response = post(rt, client, body)
    assert response.status_code == 413
    assert "larger than" in response.get_json()["error"]
    assert_nothing_stored(rt)


def test_an_unsigned_body_over_the_limit_is_413_too(rt: Runtime, client: FlaskClient) -> None:
    response = client.post(PATH, data=_too_large(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert_nothing_stored(rt)


def test_a_chunked_body_over_the_limit_is_413_not_a_truncated_400(
    rt: Runtime, client: FlaskClient
) -> None:
    body = _too_large()
    response = client.post(
        PATH,
        input_stream=io.BytesIO(body.encode()),
        headers={**signed(rt, body), "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert "larger than" in response.get_json()["error"]
    assert_nothing_stored(rt)


def test_a_chunked_body_under_the_limit_is_stored(rt: Runtime, client: FlaskClient) -> None:
    response = client.post(
        PATH,
        input_stream=io.BytesIO(BODY.encode()),
        headers={**signed(rt, BODY), "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 200, response.get_json()
    assert len(inbox(rt)) == 1


def test_a_replay_an_hour_later_is_401_even_with_a_fresh_timestamp(
    rt: Runtime, client: FlaskClient
) -> None:
    old = signed(rt, BODY, skew_ms=-3600 * 1000)
    headers = {**old, "X-HubSpot-Request-Timestamp": signed(rt, BODY)[
        "X-HubSpot-Request-Timestamp"]}
    response = client.post(PATH, data=BODY, headers=headers)
    assert response.status_code == 401
    assert_nothing_stored(rt)


def test_a_batch_that_fails_midway_leaves_nothing(
    rt: Runtime, client: FlaskClient
) -> None:
    # A 1 MiB property value in an otherwise good batch: the whole request is refused
    # before anything is written, the good event included.
    (good,) = fixture("contact_creation")
    (change,) = fixture("contact_propertyChange")
    body = json.dumps([good, {**change, "propertyValue": "y" * (1024 * 1024)}])
    assert post(rt, client, body).status_code == 413
    assert_nothing_stored(rt)
