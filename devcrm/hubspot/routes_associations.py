"""/crm/v4/associations/contacts/{emails,notes,tasks}/batch/read: the engagements on each
contact's timeline, a page of ids per contact with a cursor for the next. A contact with
none (or unknown) is an error entry of a 207, as HubSpot answers it."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response

from devcrm.hubspot.batch import batch_answer, inputs_of
from devcrm.hubspot.context import body, portal
from devcrm.hubspot.errors import validation_error

bp = Blueprint("hubspot_associations", __name__, url_prefix="/crm/v4/associations")
KINDS = "<any(emails, notes, tasks):kind>"
CONTACT_TO = {"emails": 197, "notes": 201, "tasks": 203}  # HUBSPOT_DEFINED, contact -> x
MAX_INPUTS = 1000
PAGE = 500  # associations per contact per page


@bp.post(f"/contacts/{KINDS}/batch/read")
def batch_read(kind: str) -> tuple[Response, int]:
    started, p = time.time(), portal()
    inputs = inputs_of(body(), limit=MAX_INPUTS)
    results, errors = [], []
    for item in inputs:
        contact_id = str(item.get("id", ""))
        offset = _offset(item.get("after"))
        record = p.contact(contact_id)
        with p.lock:
            ids = sorted(int(r["id"]) for r in p.engagements(kind).values()
                         if record is not None and record["id"] in r["contactIds"])
        if not ids:
            errors.append(_none_associated(kind, contact_id))
            continue
        page = ids[offset:offset + PAGE]
        result: dict[str, Any] = {"from": {"id": contact_id}, "to": [
            {"toObjectId": i, "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": CONTACT_TO[kind], "label": None}]}
            for i in page]}
        if offset + PAGE < len(ids):
            result["paging"] = {"next": {"after": str(offset + PAGE), "link": None}}
        results.append(result)
    return batch_answer(results, errors, started, time.time(), 200)


def _offset(after: Any) -> int:
    if after in (None, ""):
        return 0
    if not str(after).isdigit():
        raise validation_error(f"Invalid paging cursor: {after}")
    return int(str(after))


def _none_associated(kind: str, contact_id: str) -> dict[str, Any]:
    return {"status": "error", "category": "OBJECT_NOT_FOUND",
            "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
            "message": f"No {kind[:-1]} is associated with contact {contact_id}.",
            "context": {"fromObjectId": [contact_id], "fromObjectType": ["contact"],
                        "toObjectType": [kind[:-1]]},
            "links": {}, "errors": []}
