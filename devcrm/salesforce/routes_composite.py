"""The composite sObject collections API: POST (create) and PATCH (update) up to 200
records, results in request order, per-record errors, and allOrNone rollback."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from devcrm.salesforce.context import body, org
from devcrm.salesforce.errors import SfError
from devcrm.salesforce.objects import check_type, clean

bp = Blueprint("sf_composite", __name__)
MAX_RECORDS = 200
ROLLED_BACK = {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
               "message": "Record rolled back because not all records were valid and the "
                          "request was using AllOrNone header", "fields": []}


def _records() -> tuple[list[dict[str, Any]], bool]:
    data = body()
    records = data.get("records") if isinstance(data, dict) else None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise SfError(400, "JSON_PARSER_ERROR", "records must be a list of sObjects")
    if len(records) > MAX_RECORDS:
        raise SfError(400, "EXCEEDED_ID_LIMIT",
                      "record limit reached. cannot submit more than "
                      f"{MAX_RECORDS} records in this operation")
    return records, bool(data.get("allOrNone", False))


def _prepare(record: dict[str, Any], creating: bool) -> tuple[str, str, dict[str, Any]]:
    """(type, id or "", checked fields) or an SfError for this record."""
    sobject = (record.get("attributes") or {}).get("type")
    if not isinstance(sobject, str):
        raise SfError(400, "INVALID_TYPE", "Must send a concrete entity type.")
    check_type(sobject)
    values = {k: v for k, v in record.items() if k not in ("attributes", "Id", "id")}
    record_id = str(record.get("Id") or record.get("id") or "")
    if not creating:
        if not record_id:
            raise SfError(400, "MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
        org().find(sobject, record_id)
    elif "Id" in record or "id" in record:
        raise SfError(400, "INVALID_FIELD_FOR_INSERT_UPDATE",
                      "cannot specify Id in an insert call", ["Id"])
    fields = clean(sobject, values, creating=creating)
    org().check_references(sobject, fields)
    return sobject, record_id, fields


def _run(creating: bool) -> Response:
    records, all_or_none = _records()
    prepared: list[tuple[str, str, dict[str, Any]] | SfError] = []
    for record in records:
        try:
            prepared.append(_prepare(record, creating))
        except SfError as exc:
            prepared.append(exc)
    failed = any(isinstance(p, SfError) for p in prepared)
    results: list[dict[str, Any]] = []
    for item in prepared:
        if isinstance(item, SfError):
            results.append({"success": False, "errors": [item.as_result()]})
        elif failed and all_or_none:
            results.append({"id": item[1] or None, "success": False, "errors": [ROLLED_BACK]})
        else:
            sobject, record_id, fields = item
            if creating:
                record_id = org().create(sobject, fields, checked=True)
            else:
                record_id = org().update(sobject, record_id, fields, checked=True)["Id"]
            results.append({"id": record_id, "success": True, "errors": []})
    return jsonify(results)


@bp.post("/services/data/v<version>/composite/sobjects")
@bp.post("/services/data/v<version>/composite/sobjects/")
def create_many(version: str) -> Response:
    return _run(creating=True)


@bp.patch("/services/data/v<version>/composite/sobjects")
@bp.patch("/services/data/v<version>/composite/sobjects/")
def update_many(version: str) -> Response:
    return _run(creating=False)
