"""/crm/v3/objects/contacts: list, read, create, update, archive, batch, search, merge,
GDPR delete."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, jsonify, request

from devcrm.hubspot.batch import batch_answer, inputs_of
from devcrm.hubspot.context import body, portal
from devcrm.hubspot.errors import ApiError, error_body, not_found, standard_error, validation_error
from devcrm.hubspot.records import shape, split_names
from devcrm.hubspot.search import check_filter_groups, matches, matches_query, sort_records
from devcrm.hubspot.state import Portal

bp = Blueprint("hubspot_contacts", __name__, url_prefix="/crm/v3/objects/contacts")
SEARCH_MAX_LIMIT, SEARCH_MAX_RESULTS, LIST_MAX_LIMIT = 200, 10_000, 100


def _shape(p: Portal, record: dict[str, Any], properties: list[str] | None) -> dict[str, Any]:
    return shape(record, properties, known=p.properties)


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    try:
        return int(raw) if raw is not None else default
    except ValueError as exc:
        raise validation_error(f"{name} must be an integer") from exc


def _find(p: Portal, key: str, id_property: str | None, archived: bool = False
          ) -> dict[str, Any] | None:
    if id_property and id_property != "hs_object_id":
        if id_property != "email":
            raise validation_error(f"Unsupported idProperty: {id_property}")
        return p.contact_by_email(key, archived=archived)
    return p.contact(str(key), archived=archived)


def _properties(data: dict[str, Any]) -> dict[str, Any]:
    props = data.get("properties")
    if not isinstance(props, dict):
        raise validation_error("Invalid input JSON: properties is required")
    return props


@bp.get("")
def list_contacts() -> Response:
    p = portal()
    limit = _int_arg("limit", 10)
    if not 1 <= limit <= LIST_MAX_LIMIT:
        raise validation_error(f"limit must be between 1 and {LIST_MAX_LIMIT}")
    after = _int_arg("after", 0)
    archived = request.args.get("archived", "false").lower() == "true"
    properties = split_names(",".join(request.args.getlist("properties"))) or None
    records = [r for r in p.live_contacts(archived=archived) if int(r["id"]) >= after]
    page = records[:limit]
    payload: dict[str, Any] = {"results": [_shape(p, r, properties) for r in page]}
    if len(records) > limit:
        nxt = str(int(page[-1]["id"]) + 1)
        payload["paging"] = {"next": {"after": nxt, "link": f"{request.base_url}?after={nxt}"}}
    return jsonify(payload)


@bp.get("/<contact_id>")
def read_contact(contact_id: str) -> Response:
    p = portal()
    archived = request.args.get("archived", "false").lower() == "true"
    record = _find(p, contact_id, request.args.get("idProperty"), archived)
    if record is None:
        raise not_found()
    properties = split_names(",".join(request.args.getlist("properties"))) or None
    return jsonify(_shape(p, record, properties))


@bp.post("")
def create_contact() -> tuple[Response, int]:
    p = portal()
    props = _properties(body())
    p.check_contact_values(props)
    contact_id = p.create_contact(props, source="INTEGRATION")
    record = p.contacts[contact_id]
    return jsonify(_shape(p, record, list(record["properties"]))), 201


@bp.patch("/<contact_id>")
def update_contact(contact_id: str) -> Response:
    p = portal()
    props = _properties(body())
    record = _find(p, contact_id, request.args.get("idProperty"))
    if record is None:
        raise not_found()
    p.check_contact_values(props)
    record = p.update_contact(record["id"], props, source="INTEGRATION")
    return jsonify(_shape(p, record, list(record["properties"])))


@bp.delete("/<contact_id>")
def archive_contact(contact_id: str) -> tuple[str, int]:
    p = portal()
    if p.contact(contact_id) is not None:
        p.delete_contact(contact_id, source="INTEGRATION")
    return "", 204


@bp.post("/batch/read")
def batch_read() -> tuple[Response, int]:
    started, p, data = time.time(), portal(), body()
    inputs = inputs_of(data)
    properties = [str(n) for n in data.get("properties") or []] or None
    id_property = data.get("idProperty")
    archived = bool(data.get("archived", False))
    results, missing = [], []
    seen: set[str] = set()
    for item in inputs:
        key = str(item.get("id", ""))
        record = _find(p, key, id_property, archived)
        if record is None:
            missing.append(key)
        elif record["id"] not in seen:
            seen.add(record["id"])
            results.append(_shape(p, record, properties))
    errors = [standard_error("Could not get some CONTACT objects, they may be deleted or not "
                             "exist. Check that ids are valid.", "OBJECT_NOT_FOUND", missing)
              ] if missing else []
    return batch_answer(results, errors, started, time.time(), 200)


@bp.post("/batch/create")
def batch_create() -> tuple[Response, int]:
    started, p = time.time(), portal()
    inputs = inputs_of(body())
    props_list = [_properties(item) for item in inputs]
    for props in props_list:
        p.check_contact_values(props)
    emails = [str(props.get("email", "")).lower() for props in props_list if props.get("email")]
    for email in emails:
        existing = p.contact_by_email(email)
        if existing is not None:
            raise ApiError(409, error_body(
                f"Contact already exists. Existing ID: {existing['id']}", "CONFLICT"))
    if len(set(emails)) != len(emails):
        raise validation_error("Duplicate emails found in batch input")
    ids = [p.create_contact(props, source="INTEGRATION") for props in props_list]
    results = [_shape(p, p.contacts[i], list(p.contacts[i]["properties"])) for i in ids]
    return batch_answer(results, [], started, time.time(), 201)


@bp.post("/batch/update")
def batch_update() -> tuple[Response, int]:
    started, p, data = time.time(), portal(), body()
    inputs = inputs_of(data)
    keys = [str(item.get("id", "")) for item in inputs]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise validation_error(f"Duplicate IDs found in batch input: {duplicates}. IDs must be "
                               "unique")
    id_property = data.get("idProperty")
    found: list[tuple[dict[str, Any], dict[str, Any]]] = []
    missing = []
    for key, item in zip(keys, inputs, strict=True):
        props = _properties(item)
        p.check_contact_values(props)
        record = _find(p, key, id_property)
        if record is None:
            missing.append(key)
        else:
            found.append((record, props))
    results = []
    for record, props in found:
        updated = p.update_contact(record["id"], props, source="INTEGRATION")
        results.append(_shape(p, updated, list(updated["properties"])))
    errors = [standard_error("Could not update some CONTACT objects, they may be deleted or "
                             "not exist.", "OBJECT_NOT_FOUND", missing)] if missing else []
    return batch_answer(results, errors, started, time.time(), 200)


@bp.post("/batch/upsert")
def batch_upsert() -> tuple[Response, int]:
    """Create or update by a unique property (email): each result says whether it is new."""
    started, p = time.time(), portal()
    inputs = inputs_of(body())
    keys = [str(item.get("id", "")).lower() for item in inputs]
    if len(set(keys)) != len(keys):
        raise validation_error("Duplicate IDs found in batch input. IDs must be unique")
    for item in inputs:
        if item.get("idProperty", "email") != "email":
            raise validation_error("idProperty must be a unique property (email)")
        p.check_contact_values(_properties(item))
    results = []
    for key, item in zip(keys, inputs, strict=True):
        existing = p.contact_by_email(key)
        if existing is None:
            record = p.contacts[p.create_contact({"email": key, **item["properties"]},
                                                 source="INTEGRATION")]
        else:
            record = p.update_contact(existing["id"], item["properties"], source="INTEGRATION")
        results.append({**_shape(p, record, list(item["properties"])), "new": existing is None})
    return batch_answer(results, [], started, time.time(), 200)


@bp.post("/batch/archive")
def batch_archive() -> tuple[str, int]:
    p = portal()
    for item in inputs_of(body()):
        if p.contact(str(item.get("id", ""))) is not None:
            p.delete_contact(str(item["id"]), source="INTEGRATION")
    return "", 204


@bp.post("/search")
def search_contacts() -> Response:
    p, data = portal(), body()
    groups = data.get("filterGroups") or []
    check_filter_groups(groups)
    limit = int(data.get("limit", 10))
    if not 1 <= limit <= SEARCH_MAX_LIMIT:
        raise validation_error(f"limit must be between 1 and {SEARCH_MAX_LIMIT}")
    try:
        after = int(data.get("after") or 0)
    except ValueError as exc:
        raise validation_error("after must be an integer") from exc
    if after >= SEARCH_MAX_RESULTS:
        # HubSpot's search reaches at most 10,000 results whatever the paging.
        raise validation_error(f"after must be less than {SEARCH_MAX_RESULTS}: search reaches "
                               f"at most {SEARCH_MAX_RESULTS} results")
    hits = [r for r in p.live_contacts() if matches(r["properties"], groups)
            and matches_query(r["properties"], data.get("query"))]
    hits = sort_records(hits, data.get("sorts") or [])
    properties = [str(n) for n in data.get("properties") or []] or None
    page = hits[after:after + limit]
    payload: dict[str, Any] = {"total": len(hits),
                               "results": [_shape(p, r, properties) for r in page]}
    if after + limit < len(hits):
        payload["paging"] = {"next": {"after": str(after + limit), "link": ""}}
    return jsonify(payload)


@bp.post("/merge")
def merge_contacts() -> Response:
    p, data = portal(), body()
    primary, merged = str(data.get("primaryObjectId", "")), str(data.get("objectIdToMerge", ""))
    if p.contact(primary) is None or p.contact(merged) is None:
        raise not_found()
    try:
        record = p.merge(primary, merged, source="INTEGRATION")
    except ValueError as exc:
        raise validation_error(str(exc)) from exc
    return jsonify(_shape(p, record, None))


@bp.post("/gdpr-delete")
def gdpr_delete() -> tuple[str, int]:
    p, data = portal(), body()
    record = _find(p, str(data.get("objectId", "")), data.get("idProperty"))
    if record is None:
        record = _find(p, str(data.get("objectId", "")), data.get("idProperty"), archived=True)
    if record is None:
        raise not_found()
    p.gdpr_delete(record["id"], source="INTEGRATION")
    return "", 204
