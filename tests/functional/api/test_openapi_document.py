"""GET /v1/openapi.json: a valid OpenAPI 3.1 document describing every /v1/ operation."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

METHODS = {"get", "post", "put", "patch", "delete"}


def test_the_document_is_valid_openapi_3_1_and_public(client: FlaskClient) -> None:
    response = client.get("/v1/openapi.json")  # no key
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1.")
    validate(document, cls=OpenAPIV31SpecValidator)


def test_every_v1_route_is_described(app: Flask, client: FlaskClient) -> None:
    document = client.get("/v1/openapi.json").get_json()
    described = {
        (path, method) for path, item in document["paths"].items() for method in item
    }
    for rule in app.url_map.iter_rules():
        path = str(rule).replace("<", "{").replace(">", "}")
        if not path.startswith("/v1/") or path == "/v1/openapi.json":
            continue
        for method in (rule.methods or set()) & {m.upper() for m in METHODS}:
            assert (path, method.lower()) in described, f"{method} {path} is not described"


def test_every_operation_needs_a_key_and_documents_its_errors(client: FlaskClient) -> None:
    document = client.get("/v1/openapi.json").get_json()
    assert document["security"] == [{"bearer": []}, {"apiKey": []}]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            assert {"401", "422"} <= codes, f"{method} {path}: {codes}"
            if "{" in path:
                assert "404" in codes, f"{method} {path}: {codes}"
            if "requestBody" in operation:
                assert {"400", "413"} <= codes, f"{method} {path}: {codes}"
    upload = document["paths"]["/v1/workspace"]["post"]["requestBody"]["content"]
    assert set(upload) == {
        "application/gzip",
        "application/x-tar",
        "application/zip",
        "application/octet-stream",
    }
