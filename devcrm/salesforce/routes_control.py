"""/_emulator/...: JSON control endpoints, so another process can drive the emulator the
way the Python API does: orgs and their tokens, Contacts and Leads created, changed and
converted as a user would (Outbound Messages fire), Outbound Message actions, what a rep
sees on a record's timeline, faults, the request log and draining the outbound queue.
Errors use the REST API's shape ([{"message", "errorCode"}]): bad input 400, an unknown
org or record 404."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify, request

from devcrm.salesforce.context import emulator
from devcrm.salesforce.errors import SfError
from devcrm.salesforce.ids import to18
from devcrm.salesforce.objects import FIELDS, clean, field_name
from devcrm.salesforce.outbound import OutboundConfig
from devcrm.salesforce.state import Org

bp = Blueprint("sf_control", __name__, url_prefix="/_emulator")
PEOPLE = ("Contact", "Lead")  # what a user creates here; Tasks are the connector's to write
_ORG_ID = re.compile(r"^00D[0-9A-Za-z]{12}(?:[0-9A-Za-z]{3})?$")


def bad_input(message: str) -> SfError:
    return SfError(400, "INVALID_INPUT", message)


def _body(*, required: bool = True) -> dict[str, Any]:
    """The JSON object the request carries; an empty body is {} when not `required`."""
    if not request.get_data() and not required:
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise bad_input("the body must be a JSON object")
    return data


def _org(org_id: str) -> Org:
    found = emulator().orgs.get(to18(org_id)) if _ORG_ID.match(org_id) else None
    if found is None:
        raise SfError(404, "NOT_FOUND", f"no org {org_id}")
    return found


def _person_type(sobject: str) -> str:
    if sobject not in PEOPLE:
        raise bad_input(f"records made here are Contacts or Leads, not {sobject!r}")
    return sobject


def _record(org: Org, sobject: str, record_id: str) -> dict[str, Any]:
    if sobject not in FIELDS:
        raise bad_input(f"unknown sObject type {sobject!r}: one of {', '.join(FIELDS)}")
    try:
        return dict(org.find(sobject, record_id))
    except SfError as exc:
        raise SfError(404, "NOT_FOUND", f"no {sobject} {record_id} in org {org.org_id}") from exc


def _org_json(org: Org) -> dict[str, Any]:
    emu = emulator()
    return {"org_id": org.org_id, "user_id": org.user_id, "access_token": org.access_token,
            "instance_url": emu.url, "identity_url": emu.identity_url(org)}


def _outbound_json(config: OutboundConfig) -> dict[str, Any]:
    return {"action_id": config.action_id, "org_id": config.org_id,
            "target_url": config.target_url, "object": config.sobject, "fields": config.fields}


# -- orgs and tokens -----------------------------------------------------------------------
@bp.post("/orgs")
def create_org() -> tuple[Response, int]:
    """A new org ({"org_id": 15 or 18 characters} or a fresh id) with a ready token."""
    org_id = _body(required=False).get("org_id")
    if org_id is not None and (not isinstance(org_id, str) or not _ORG_ID.match(org_id)):
        raise bad_input(f"org_id must be a 15 or 18 character id starting 00D, got {org_id!r}")
    try:
        org = emulator().add_org(org_id)
    except ValueError as exc:
        raise SfError(409, "DUPLICATE_VALUE", str(exc)) from exc
    return jsonify(_org_json(org)), 201


@bp.get("/orgs")
def list_orgs() -> Response:
    return jsonify({"results": [_org_json(o) for o in list(emulator().orgs.values())]})


@bp.post("/orgs/<org_id>/revoke")
def revoke(org_id: str) -> tuple[str, int]:
    emulator().revoke(_org(org_id))
    return "", 204


@bp.post("/orgs/<org_id>/expire-tokens")
def expire_tokens(org_id: str) -> Response:
    return jsonify({"expired": emulator().expire_tokens(_org(org_id))})


# -- records, as a user would make them ------------------------------------------------------
@bp.post("/orgs/<org_id>/sobjects/<sobject>")
def create_records(org_id: str, sobject: str) -> tuple[Response, int]:
    """One record (its fields) or many ({"records": [{...}, ...]}, all checked before any
    is created); each create sends the org's Outbound Messages for the object."""
    org, sobject, data = _org(org_id), _person_type(sobject), _body()
    if "records" not in data:
        record_id = org.create(sobject, data)
        return jsonify(_record(org, sobject, record_id)), 201
    many = data["records"]
    if not isinstance(many, list) or not all(isinstance(r, dict) for r in many):
        raise bad_input("records must be a list of JSON objects")
    checked = [clean(sobject, values, creating=True) for values in many]
    return jsonify({"ids": [org.create(sobject, fields, checked=True) for fields in checked]}), 201


@bp.get("/orgs/<org_id>/sobjects/<sobject>")
def list_records(org_id: str, sobject: str) -> Response:
    org = _org(org_id)
    if sobject not in FIELDS:
        raise bad_input(f"unknown sObject type {sobject!r}: one of {', '.join(FIELDS)}")
    return jsonify({"results": org.all(sobject)})


@bp.get("/orgs/<org_id>/sobjects/<sobject>/<record_id>")
def read_record(org_id: str, sobject: str, record_id: str) -> Response:
    return jsonify(_record(_org(org_id), sobject, record_id))


@bp.patch("/orgs/<org_id>/sobjects/<sobject>/<record_id>")
def update_record(org_id: str, sobject: str, record_id: str) -> Response:
    org, sobject = _org(org_id), _person_type(sobject)
    _record(org, sobject, record_id)
    return jsonify(org.update(sobject, record_id, _body()))


@bp.post("/orgs/<org_id>/sobjects/Lead/<lead_id>/convert")
def convert_lead(org_id: str, lead_id: str) -> Response:
    """Convert a Lead: the Contact it became, and the Lead marked converted."""
    org = _org(org_id)
    _record(org, "Lead", lead_id)
    contact_id = org.convert_lead(lead_id)
    return jsonify({"contact_id": contact_id, "contact": _record(org, "Contact", contact_id),
                    "lead": _record(org, "Lead", lead_id)})


@bp.get("/orgs/<org_id>/timeline/<who_id>")
def timeline(org_id: str, who_id: str) -> Response:
    """What a rep sees on a Contact or Lead: the record and the Tasks on its timeline."""
    org = _org(org_id)
    for sobject in PEOPLE:
        try:
            record = dict(org.find(sobject, who_id))
        except SfError:
            continue
        return jsonify({"record": record, "tasks": org.timeline(who_id)})
    raise SfError(404, "NOT_FOUND", f"no Contact or Lead {who_id} in org {org.org_id}")


# -- outbound messages ---------------------------------------------------------------------
@bp.post("/orgs/<org_id>/outbound")
def configure_outbound(org_id: str) -> tuple[Response, int]:
    """An Outbound Message action: {"target_url", "object": Contact|Lead, "fields": [...]}."""
    org, data = _org(org_id), _body()
    target, sobject = data.get("target_url"), data.get("object", "Contact")
    if not isinstance(target, str) or not target.startswith(("http://", "https://")):
        raise bad_input(f"target_url must be an http(s) URL, got {target!r}")
    if not isinstance(sobject, str):
        raise bad_input(f"object must be Contact or Lead, got {sobject!r}")
    _person_type(sobject)
    fields = data.get("fields")
    if fields is not None and (not isinstance(fields, list)
                               or not all(isinstance(f, str) for f in fields)):
        raise bad_input("fields must be a list of field names")
    names = [field_name(sobject, f) for f in fields] if fields else None
    config = emulator().outbound(org, target, object=sobject, fields=names)
    return jsonify(_outbound_json(config)), 201


@bp.get("/outbound")
def outbound_log() -> Response:
    """The configured actions and every delivery attempt (attempt, HTTP status or error)."""
    emu = emulator()
    return jsonify({"configs": [_outbound_json(c) for c in list(emu.outbound_sender.configs)],
                    "deliveries": [{"attempt": a, "outcome": o, "notifications": n}
                                   for a, o, n in list(emu.outbound_deliveries)]})


@bp.post("/drain")
def drain() -> Response:
    """Wait until every Outbound Message is acknowledged or dropped ({"timeout": s})."""
    timeout = _body(required=False).get("timeout", 10.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise bad_input(f"timeout must be a positive number of seconds, got {timeout!r}")
    return jsonify({"drained": emulator().drain(float(timeout))})


# -- faults and the request log ------------------------------------------------------------
@bp.post("/faults")
def add_fault() -> tuple[Response, int]:
    """Answer the next `count` requests under `path_prefix` (of `method`) with `status`,
    after `delay` seconds."""
    data = _body()
    status, count, delay = data.get("status"), data.get("count", 1), data.get("delay", 0.0)
    prefix, method = data.get("path_prefix", ""), data.get("method")
    if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
        raise bad_input(f"status must be an HTTP error status (400-599), got {status!r}")
    if isinstance(count, bool) or not isinstance(count, int):
        raise bad_input(f"count must be an integer, got {count!r}")
    if isinstance(delay, bool) or not isinstance(delay, int | float):
        raise bad_input(f"delay must be a number of seconds, got {delay!r}")
    if not isinstance(prefix, str) or (method is not None and not isinstance(method, str)):
        raise bad_input("path_prefix and method must be strings")
    try:
        fault = emulator().faults.add(status=status, count=count, path_prefix=prefix,
                                      delay=float(delay), method=method)
    except ValueError as exc:
        raise bad_input(str(exc)) from exc
    return jsonify(fault.to_json()), 201


@bp.get("/faults")
def list_faults() -> Response:
    return jsonify({"results": emulator().faults.pending()})


@bp.delete("/faults")
def clear_faults() -> tuple[str, int]:
    emulator().faults.clear()
    return "", 204


@bp.get("/requests")
def request_log() -> Response:
    """The API requests from `since` on, `next` to ask from, and each org's daily usage."""
    emu = emulator()
    raw = request.args.get("since", "0")
    if not raw.isdigit():
        raise bad_input(f"since must be a non-negative index, got {raw!r}")
    since = int(raw)
    rows = [{"method": m, "path": p, "status": s, "org_id": o}
            for m, p, s, o in list(emu.requests)[since:]]
    usage = {org_id: emu.limiter.used(org_id) for org_id in list(emu.orgs)}
    return jsonify({"results": rows, "next": since + len(rows), "api_limit": emu.limiter.limit,
                    "api_usage": usage})
