"""sObject rows: create (POST /sobjects/<Type>/), read, update (204), delete (204), the
type's fields (/sobjects/<Type>/describe/, the part of Salesforce's answer clients read:
each field's name and type) and the replication windows /sobjects/<Type>/updated/ and
/deleted/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, jsonify, request

from devcrm.salesforce.context import body, emulator, org
from devcrm.salesforce.errors import SfError
from devcrm.salesforce.objects import BOOLEANS, FIELDS, READ_ONLY, check_type, field_name
from devcrm.salesforce.state import sf_datetime

bp = Blueprint("sf_sobjects", __name__)
BASE = "/services/data/v<version>/sobjects/<sobject>"
UPDATED_DAYS, DELETED_DAYS = 30, 15


def _object_url(version: str, sobject: str, record_id: str) -> str:
    return f"/services/data/v{version}/sobjects/{sobject}/{record_id}"


@bp.post(BASE + "/")
@bp.post(BASE)
def create(version: str, sobject: str) -> tuple[Response, int]:
    check_type(sobject)
    data = body()
    if not isinstance(data, dict):
        raise SfError(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of sObject")
    record_id = org().create(sobject, data)
    return jsonify({"id": record_id, "success": True, "errors": []}), 201


@bp.get(BASE + "/describe/")
@bp.get(BASE + "/describe")
def describe(version: str, sobject: str) -> Response:
    check_type(sobject)
    return jsonify({"name": sobject, "fields": [
        {"name": name, "type": _field_type(name), "updateable": name not in READ_ONLY}
        for name in FIELDS[sobject]]})


def _field_type(name: str) -> str:
    if name == "Id" or name.endswith("Id"):
        return "id" if name == "Id" else "reference"
    if name in BOOLEANS:
        return "boolean"
    if name.endswith("Date") or name == "SystemModstamp":
        return "date" if name in ("ActivityDate", "ConvertedDate") else "datetime"
    return "email" if name == "Email" else "string"


@bp.get(BASE + "/<record_id>")
def read(version: str, sobject: str, record_id: str) -> Response:
    record = org().find(sobject, record_id)
    wanted = request.args.get("fields")
    names = [field_name(sobject, f.strip()) for f in wanted.split(",")] if wanted else None
    out = {name: record.get(name) for name in names or FIELDS[sobject]}
    return jsonify({"attributes": {"type": sobject,
                                   "url": _object_url(version, sobject, record["Id"])}, **out})


@bp.patch(BASE + "/<record_id>")
def update(version: str, sobject: str, record_id: str) -> tuple[str, int]:
    data = body()
    if not isinstance(data, dict):
        raise SfError(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of sObject")
    org().update(sobject, record_id, data)
    return "", 204


@bp.delete(BASE + "/<record_id>")
def delete(version: str, sobject: str, record_id: str) -> tuple[str, int]:
    org().delete(sobject, record_id)
    return "", 204


def _window(days: int) -> tuple[datetime, datetime]:
    try:
        start = datetime.fromisoformat(request.args["start"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(request.args["end"].replace("Z", "+00:00"))
    except (KeyError, ValueError) as exc:
        raise SfError(400, "INVALID_REPLICATION_DATE",
                      "start and end must be valid dateTime values") from exc
    if start.tzinfo is None or end.tzinfo is None:
        raise SfError(400, "INVALID_REPLICATION_DATE", "dateTime values need a time zone")
    now = datetime.fromtimestamp(emulator().clock(), tz=UTC)
    if start < now - timedelta(days=days):
        raise SfError(400, "INVALID_REPLICATION_DATE",
                      f"startDate cannot be more than {days} days ago")
    if end < start:
        raise SfError(400, "INVALID_REPLICATION_DATE", "EndDate must chronologically "
                      "follow the StartDate")
    return start, min(end, now)


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("+0000", "+00:00"))


@bp.get(BASE + "/updated/")
def updated(version: str, sobject: str) -> Response:
    check_type(sobject)
    start, end = _window(UPDATED_DAYS)
    ids = [r["Id"] for r in org().all(sobject)
           if start <= _parse(r["LastModifiedDate"]) <= end]
    return jsonify({"ids": ids, "latestDateCovered": sf_datetime(end.timestamp())})


@bp.get(BASE + "/deleted/")
def deleted(version: str, sobject: str) -> Response:
    check_type(sobject)
    start, end = _window(DELETED_DAYS)
    rows = [{"id": rid, "deletedDate": sf_datetime(at)} for kind, rid, at in org().deleted
            if kind == sobject and start.timestamp() <= at <= end.timestamp()]
    earliest = emulator().clock() - DELETED_DAYS * 86_400
    return jsonify({"deletedRecords": rows, "earliestDateAvailable": sf_datetime(earliest),
                    "latestDateCovered": sf_datetime(end.timestamp())})
