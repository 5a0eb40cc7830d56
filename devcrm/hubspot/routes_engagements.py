"""/crm/v3/objects/{emails,notes,tasks}: engagements on contacts' timelines, created with
inline associations (email 198, note 202, task 204 -> contact), read one by one or in
batches."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, jsonify

from devcrm.hubspot.batch import batch_answer, inputs_of
from devcrm.hubspot.context import body, portal
from devcrm.hubspot.definitions import (
    EMAIL_DIRECTIONS,
    EMAIL_PROPERTIES,
    EMAIL_STATUSES,
    ENGAGEMENT_READ_ONLY,
    NOTE_PROPERTIES,
    TASK_PROPERTIES,
)
from devcrm.hubspot.errors import (
    invalid_properties,
    not_found,
    property_problem,
    standard_error,
    validation_error,
)
from devcrm.hubspot.records import (
    ENGAGEMENT_DEFAULT_PROPERTIES,
    as_string,
    shape,
    to_ms,
)
from devcrm.hubspot.state import Portal

bp = Blueprint("hubspot_engagements", __name__, url_prefix="/crm/v3/objects")
KINDS = "<any(emails, notes, tasks):kind>"
ASSOCIATION_TYPE = {"emails": 198, "notes": 202, "tasks": 204}
ALLOWED = {"emails": EMAIL_PROPERTIES, "notes": NOTE_PROPERTIES, "tasks": TASK_PROPERTIES}
CHOICES = {"hs_email_status": EMAIL_STATUSES, "hs_email_direction": EMAIL_DIRECTIONS}


def _check(kind: str, props: Any, *, creating: bool) -> dict[str, Any]:
    if not isinstance(props, dict):
        raise validation_error("Invalid input JSON: properties is required")
    problems = []
    for name, raw in props.items():
        value = as_string(raw)
        if name not in ALLOWED[kind] or name in ENGAGEMENT_READ_ONLY:
            problems.append(property_problem(name, "PROPERTY_DOESNT_EXIST",
                                             f'Property "{name}" does not exist'))
        elif name in CHOICES and value not in CHOICES[name]:
            problems.append(property_problem(name, "INVALID_OPTION",
                                             f"{value} was not one of the allowed options: "
                                             + ", ".join(CHOICES[name])))
    if props.get("hs_timestamp") and to_ms(as_string(props["hs_timestamp"])) is None:
        problems.append(property_problem("hs_timestamp", "INVALID_DATETIME",
                                         "hs_timestamp must be epoch milliseconds or ISO 8601"))
    if creating and not props.get("hs_timestamp"):
        problems.append(property_problem("hs_timestamp", "REQUIRED_PROPERTY",
                                         "hs_timestamp is required"))
    if problems:
        raise invalid_properties(problems)
    return props


def _contacts(p: Portal, kind: str, associations: Any) -> tuple[list[str], str | None]:
    """The contact ids of an input's associations, or the reason the input fails."""
    ids = []
    for association in associations or []:
        target = str((association.get("to") or {}).get("id", ""))
        types = association.get("types") or []
        if not any(t.get("associationTypeId") == ASSOCIATION_TYPE[kind] for t in types):
            return [], f"invalid association type for {kind} -> contact: {types}"
        if p.contact(target) is None:
            return [], f"No contact with id {target}"
        ids.append(target)
    return ids, None


def _shape(record: dict[str, Any], properties: list[str] | None = None) -> dict[str, Any]:
    return shape(record, properties or list(record["properties"]), known=record["properties"],
                 defaults=ENGAGEMENT_DEFAULT_PROPERTIES)


@bp.post(f"/{KINDS}")
def create(kind: str) -> tuple[Response, int]:
    p, data = portal(), body()
    props = _check(kind, data.get("properties"), creating=True)
    contact_ids, problem = _contacts(p, kind, data.get("associations"))
    if problem:
        raise validation_error(problem)
    return jsonify(_shape(p.create_engagement(kind, props, contact_ids))), 201


@bp.post(f"/{KINDS}/batch/create")
def batch_create(kind: str) -> tuple[Response, int]:
    started, p = time.time(), portal()
    inputs = inputs_of(body())
    checked = [_check(kind, item.get("properties"), creating=True) for item in inputs]
    results, errors = [], []
    for index, (item, props) in enumerate(zip(inputs, checked, strict=True)):
        contact_ids, problem = _contacts(p, kind, item.get("associations"))
        if problem:
            error = standard_error(problem, "VALIDATION_ERROR", [])
            error["context"] = {"inputIndex": [str(index)]}
            errors.append(error)
        else:
            results.append(_shape(p.create_engagement(kind, props, contact_ids)))
    return batch_answer(results, errors, started, time.time(), 201)


@bp.post(f"/{KINDS}/batch/read")
def batch_read(kind: str) -> tuple[Response, int]:
    started, p, data = time.time(), portal(), body()
    inputs = inputs_of(data)
    properties = [str(n) for n in data.get("properties") or []] or None
    results, missing = [], []
    with p.lock:
        for key in dict.fromkeys(str(item.get("id", "")) for item in inputs):
            record = p.engagements(kind).get(key)
            if record is None or record["archived"]:
                missing.append(key)
            else:
                results.append(_shape(record, properties))
    errors = [standard_error(f"Could not get some {kind[:-1].upper()} objects, they may be "
                             "deleted or not exist. Check that ids are valid.",
                             "OBJECT_NOT_FOUND", missing)] if missing else []
    return batch_answer(results, errors, started, time.time(), 200)


@bp.get(f"/{KINDS}/<object_id>")
def read(kind: str, object_id: str) -> Response:
    record = portal().engagements(kind).get(object_id)
    if record is None:
        raise not_found()
    return jsonify(_shape(record))


@bp.patch(f"/{KINDS}/<object_id>")
def update(kind: str, object_id: str) -> Response:
    p, data = portal(), body()
    props = _check(kind, data.get("properties"), creating=False)
    try:
        return jsonify(_shape(p.update_engagement(kind, object_id, props)))
    except KeyError as exc:
        raise not_found() from exc


@bp.post(f"/{KINDS}/batch/update")
def batch_update(kind: str) -> tuple[Response, int]:
    started, p = time.time(), portal()
    inputs = inputs_of(body())
    keys = [str(item.get("id", "")) for item in inputs]
    if len(set(keys)) != len(keys):
        raise validation_error("Duplicate IDs found in batch input. IDs must be unique")
    checked = [_check(kind, item.get("properties"), creating=False) for item in inputs]
    results, missing = [], []
    for key, props in zip(keys, checked, strict=True):
        try:
            results.append(_shape(p.update_engagement(kind, key, props)))
        except KeyError:
            missing.append(key)
    errors = [standard_error(f"Could not update some {kind} objects, they may be deleted or "
                             "not exist.", "OBJECT_NOT_FOUND", missing)] if missing else []
    return batch_answer(results, errors, started, time.time(), 200)
