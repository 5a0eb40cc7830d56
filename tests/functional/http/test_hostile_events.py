"""POST /v1/events as a hostile client: whatever the body, a 4xx with a message, never a
500, and nothing stored. Ambiguous JSON (NaN, duplicate keys) is refused, not guessed."""

from __future__ import annotations

import io
import json

import pytest
from flask.testing import FlaskClient

from connector.runtime import Runtime
from connector.services.accounts import AccountView
from tests.functional.http.test_events_api import GOOD, auth, inbox_count


def send(client: FlaskClient, account: AccountView, body: bytes | str, **extra: object):  # type: ignore[no-untyped-def]
    return client.post(
        "/v1/events",
        data=body,
        headers={**auth(account), "Content-Type": "application/json"},
        **extra,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    "body",
    [
        # 600 nested objects: json.loads copes, pydantic's model_dump would not.
        '{"contact": {"email": "a@example.com"}, "event": "x", "properties": {"p": '
        + '{"a": ' * 600 + "1" + "}" * 600 + "}}",
        # 100,000 nested arrays: RecursionError inside json.loads.
        '{"contact": {"email": "a@example.com"}, "event": "x", "properties": {"p": '
        + "[" * 100_000 + "]" * 100_000 + "}}",
        "[" * 100_000,
    ],
    ids=["objects-600", "arrays-100000", "unclosed-arrays"],
)
def test_deeply_nested_json_is_400(
    rt: Runtime, client: FlaskClient, account: AccountView, body: str
) -> None:
    response = send(client, account, body)
    assert response.status_code == 400, response.data[:300]
    assert "nested" in response.get_json()["error"]
    assert inbox_count(rt) == 0


def test_nesting_a_real_event_needs_is_fine(
    rt: Runtime, client: FlaskClient, account: AccountView
) -> None:
    items = [{"name": "Mug", "options": {"colour": {"name": "red", "codes": [1, 2]}}}]
    body = {**GOOD, "properties": {"items": items}}
    assert send(client, account, json.dumps(body)).status_code == 202


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_400_naming_them(
    rt: Runtime, client: FlaskClient, account: AccountView, constant: str
) -> None:
    body = '{"contact": {"email": "a@example.com"}, "event": "x", "properties": {"total": %s}}'
    response = send(client, account, body % constant)
    assert response.status_code == 400
    assert constant in response.get_json()["error"]
    assert inbox_count(rt) == 0


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('{"contact": {"email": "a@example.com"}, "event": "x", "event": "y"}', "event"),
        (
            '{"contact": {"email": "a@example.com", "email": "b@example.com"}, "event": "x"}',
            "email",
        ),
    ],
)
def test_duplicate_keys_are_400_naming_the_key(
    rt: Runtime, client: FlaskClient, account: AccountView, body: str, key: str
) -> None:
    response = send(client, account, body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert "duplicate" in error and repr(key) in error
    assert inbox_count(rt) == 0


def test_chunked_body_over_the_limit_is_413_not_a_truncated_400(
    rt: Runtime, client: FlaskClient, account: AccountView
) -> None:
    # No Content-Length: the server terminates the stream (gunicorn and werkzeug set
    # wsgi.input_terminated for chunked requests), so the limit is met while reading.
    body = json.dumps({**GOOD, "properties": {"blob": "x" * (2 * 1024 * 1024)}}).encode()
    response = client.post(
        "/v1/events",
        input_stream=io.BytesIO(body),
        headers={**auth(account), "Content-Type": "application/json",
                 "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert "larger than" in response.get_json()["error"]
    assert inbox_count(rt) == 0


def test_chunked_body_under_the_limit_is_accepted(
    rt: Runtime, client: FlaskClient, account: AccountView
) -> None:
    response = client.post(
        "/v1/events",
        input_stream=io.BytesIO(json.dumps(GOOD).encode()),
        headers={**auth(account), "Content-Type": "application/json",
                 "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 202, response.get_json()


@pytest.mark.parametrize(
    "body",
    [b"", b"\xff\xfe{}", b"\x00", b'{"a": "\\ud800"}', b"null", b'"x"', b"1e999999"],
    ids=["empty", "not-utf8", "nul", "lone-surrogate", "null", "string", "huge-number"],
)
def test_odd_bodies_are_4xx_with_a_message(
    rt: Runtime, client: FlaskClient, account: AccountView, body: bytes
) -> None:
    response = send(client, account, body)
    assert 400 <= response.status_code < 500
    assert response.get_json()["error"]
    assert inbox_count(rt) == 0


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ('"total": 1e999', "out of range"),
        ('"note": "a\\u0000b"', "NUL"),
        ('"note": "\\ud800"', "surrogate"),
        ('"\\ud800": 1', "surrogate"),
    ],
    ids=["inf-in-disguise", "nul", "lone-surrogate", "surrogate-key"],
)
def test_values_that_are_not_numbers_or_text_are_400(
    rt: Runtime, client: FlaskClient, account: AccountView, text: str, what: str
) -> None:
    body = '{"contact": {"email": "a@example.com"}, "event": "x", "properties": {' + text + "}}"
    response = send(client, account, body)
    assert response.status_code == 400
    assert what in response.get_json()["error"]
    assert inbox_count(rt) == 0


def field_errors(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {d["field"]: d["message"] for d in response.get_json()["details"]}


@pytest.mark.parametrize(
    ("value", "words"),
    [({"a": 1}, "not an object"), (["a"], "not a list"), ("x" * 900_000, "longer than 4096")],
    ids=["object", "list", "900-kb"],
)
def test_contact_properties_are_bounded_scalars_422_naming_the_field(
    rt: Runtime, client: FlaskClient, account: AccountView, value: object, words: str
) -> None:
    body = {"contact": {"email": "a@example.com", "properties": {"firstname": value}},
            "event": "x"}
    response = send(client, account, json.dumps(body))
    assert response.status_code == 422
    errors = field_errors(response)
    assert words in errors["contact.properties.firstname"]
    assert inbox_count(rt) == 0


def test_scalar_contact_properties_of_every_kind_are_fine(
    rt: Runtime, client: FlaskClient, account: AccountView
) -> None:
    properties = {"firstname": "Ada", "age": 36, "score": 9.5, "vip": True, "phone": None,
                  "bio": "x" * 4096}
    body = {"contact": {"email": "a@example.com", "properties": properties}, "event": "x"}
    assert send(client, account, json.dumps(body)).status_code == 202


def test_event_properties_are_bounded_in_total(
    rt: Runtime, client: FlaskClient, account: AccountView
) -> None:
    cart = [{"name": f"Item {n}", "quantity": 1, "price": 9.5,
             "url": f"https://shop.example/p/{n}"} for n in range(100)]
    ok = {**GOOD, "properties": {"items": cart}}
    assert send(client, account, json.dumps(ok)).status_code == 202
    big = {**GOOD, "properties": {"items": cart * 20}}
    response = send(client, account, json.dumps(big))
    assert response.status_code == 422
    assert "65536" in field_errors(response)["properties"]


def test_property_names_are_bounded(
    rt: Runtime, client: FlaskClient, account: AccountView
) -> None:
    body = {**GOOD, "properties": {"k" * 101: 1}}
    response = send(client, account, json.dumps(body))
    assert response.status_code == 422
    assert inbox_count(rt) == 0


@pytest.mark.parametrize(
    "name", ["order.completed", "signed_up", "Shop:Order-Done", "pe123_order_completed",
             "Order_Completed__e"],
)
def test_event_names_flows_may_use_are_accepted(
    rt: Runtime, client: FlaskClient, account: AccountView, name: str
) -> None:
    assert send(client, account, json.dumps({**GOOD, "event": name})).status_code == 202


@pytest.mark.parametrize("name", ["Order Completed", "orders/create", "x" * 101, "", "é"])
def test_event_names_no_flow_may_use_are_422(
    rt: Runtime, client: FlaskClient, account: AccountView, name: str
) -> None:
    response = send(client, account, json.dumps({**GOOD, "event": name}))
    assert response.status_code == 422
    assert "event" in field_errors(response)
