"""/crm/v3/properties/contacts: property groups and definitions (app-owned properties must
be created before they are written, as on HubSpot)."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, jsonify

from devcrm.hubspot.batch import batch_answer, inputs_of
from devcrm.hubspot.context import body, portal
from devcrm.hubspot.definitions import definition, option
from devcrm.hubspot.errors import ApiError, error_body, not_found, validation_error
from devcrm.hubspot.records import iso
from devcrm.hubspot.state import Portal

bp = Blueprint("hubspot_properties", __name__, url_prefix="/crm/v3/properties")
OBJECT = "<any(contacts, contact, '0-1'):object_type>"
TYPES = ("string", "number", "date", "datetime", "enumeration", "bool")


def _conflict(message: str) -> ApiError:
    return ApiError(409, error_body(message, "OBJECT_ALREADY_EXISTS",
                                    subCategory="Property.ALREADY_EXISTS"))


@bp.get(f"/{OBJECT}/groups")
def list_groups(object_type: str) -> Response:
    return jsonify({"results": list(portal().groups.values())})


@bp.post(f"/{OBJECT}/groups")
def create_group(object_type: str) -> tuple[Response, int]:
    p, data = portal(), body()
    name, label = data.get("name"), data.get("label")
    if not name or not label:
        raise validation_error("name and label are required")
    with p.lock:
        if name in p.groups:
            raise ApiError(409, error_body(f"A property group named '{name}' already exists.",
                                           "OBJECT_ALREADY_EXISTS"))
        group = {"name": name, "label": label,
                 "displayOrder": int(data.get("displayOrder", -1)), "archived": False}
        p.groups[name] = group
    return jsonify(group), 201


@bp.get(f"/{OBJECT}")
def list_properties(object_type: str) -> Response:
    return jsonify({"results": list(portal().properties.values())})


@bp.get(f"/{OBJECT}/<name>")
def read_property(object_type: str, name: str) -> Response:
    found = portal().properties.get(name)
    if found is None:
        raise not_found(f"Unable to find property {name}")
    return jsonify(found)


def _new_property(p: Portal, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise validation_error("Invalid input JSON")
    missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not data.get(k)]
    if missing:
        raise validation_error(f"Missing required fields: {', '.join(missing)}")
    if data["type"] not in TYPES:
        raise validation_error(f"Invalid type {data['type']}; one of {', '.join(TYPES)}")
    if data["groupName"] not in p.groups:
        raise validation_error(f"group {data['groupName']} does not exist")
    options = [option(str(o["value"]), str(o.get("label", o["value"])), i)
               for i, o in enumerate(data.get("options") or [])]
    if data["type"] == "bool" and not options:
        options = [option("true", "Yes", 0), option("false", "No", 1)]
    return definition(data["name"], data["label"], data["type"], data["fieldType"],
                      data["groupName"], now=iso(p.clock()), hubspot_defined=False,
                      options=options, description=data.get("description", ""),
                      display_order=int(data.get("displayOrder", -1)))


@bp.post(f"/{OBJECT}")
def create_property(object_type: str) -> tuple[Response, int]:
    p = portal()
    created = _new_property(p, body())
    with p.lock:
        if created["name"] in p.properties:
            raise _conflict(f"Property with name '{created['name']}' already exists")
        p.properties[created["name"]] = created
    return jsonify(created), 201


@bp.post(f"/{OBJECT}/batch/create")
def batch_create_properties(object_type: str) -> tuple[Response, int]:
    started, p = time.time(), portal()
    created = [_new_property(p, item) for item in inputs_of(body())]
    with p.lock:
        # Like HubSpot, one existing name fails the whole batch with a 409.
        for item in created:
            if item["name"] in p.properties:
                raise _conflict(f"Property with name '{item['name']}' already exists")
        for item in created:
            p.properties[item["name"]] = item
    return batch_answer(created, [], started, time.time(), 201)
