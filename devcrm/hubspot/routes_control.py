"""/_emulator/...: JSON control endpoints, so another process can drive the emulator the
way the Python API does (portals, contacts with webhooks, faults, logs, tokens)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from devcrm.hubspot.context import emulator
from devcrm.hubspot.errors import ApiError, error_body, not_found, validation_error
from devcrm.hubspot.state import Portal

bp = Blueprint("hubspot_control", __name__, url_prefix="/_emulator")


def _json() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def _portal(hub_id: int) -> Portal:
    try:
        return emulator().portal(hub_id)
    except KeyError as exc:
        raise not_found(f"no portal {hub_id}") from exc


def _portal_json(p: Portal) -> dict[str, Any]:
    return {"hub_id": p.hub_id, "private_token": p.private_token}


@bp.post("/portals")
def create_portal() -> tuple[Response, int]:
    data = _json()
    try:
        p = emulator().add_portal(int(data.get("hub_id", 12345)), data.get("private_token"))
    except ValueError as exc:
        raise ApiError(409, error_body(str(exc), "CONFLICT")) from exc
    p.merge_creates_new_id = bool(data.get("merge_creates_new_id", False))
    return jsonify(_portal_json(p)), 201


@bp.get("/portals")
def list_portals() -> Response:
    return jsonify({"results": [_portal_json(p) for p in emulator().portals.values()]})


@bp.post("/portals/<int:hub_id>/contacts")
def create_contact(hub_id: int) -> tuple[Response, int]:
    """One contact ({"properties": {...}}) or many ({"contacts": [{...}, ...]}), as a CRM
    user would (webhooks fire)."""
    p, data = _portal(hub_id), _json()
    if "contacts" in data:
        ids = [p.create_contact(props) for props in data["contacts"]]
        return jsonify({"ids": ids}), 201
    contact_id = p.create_contact(data.get("properties") or {})
    return jsonify(p.contacts[contact_id]), 201


@bp.get("/portals/<int:hub_id>/contacts/<contact_id>")
def read_contact(hub_id: int, contact_id: str) -> Response:
    p = _portal(hub_id)
    record = p.contact(contact_id) or p.contact(contact_id, archived=True)
    if record is None:
        raise not_found()
    return jsonify(record)


@bp.get("/portals/<int:hub_id>/contacts")
def list_contacts(hub_id: int) -> Response:
    p = _portal(hub_id)
    with p.lock:
        return jsonify({"results": list(p.contacts.values()), "merged": dict(p.merged)})


@bp.patch("/portals/<int:hub_id>/contacts/<contact_id>")
def update_contact(hub_id: int, contact_id: str) -> Response:
    try:
        return jsonify(_portal(hub_id).update_contact(contact_id, _json().get("properties") or {}))
    except KeyError as exc:
        raise not_found() from exc


@bp.delete("/portals/<int:hub_id>/contacts/<contact_id>")
def delete_contact(hub_id: int, contact_id: str) -> tuple[str, int]:
    p = _portal(hub_id)
    try:
        if request.args.get("gdpr") == "true":
            p.gdpr_delete(contact_id)
        else:
            p.delete_contact(contact_id)
    except KeyError as exc:
        raise not_found() from exc
    return "", 204


@bp.post("/portals/<int:hub_id>/contacts/<contact_id>/restore")
def restore_contact(hub_id: int, contact_id: str) -> tuple[str, int]:
    try:
        _portal(hub_id).restore_contact(contact_id)
    except KeyError as exc:
        raise not_found() from exc
    return "", 204


@bp.post("/portals/<int:hub_id>/merge")
def merge(hub_id: int) -> Response:
    data = _json()
    try:
        return jsonify(_portal(hub_id).merge(str(data["primary_id"]), str(data["merged_id"])))
    except KeyError as exc:
        raise not_found() from exc
    except ValueError as exc:
        raise validation_error(str(exc)) from exc


@bp.get("/portals/<int:hub_id>/contacts/<contact_id>/timeline")
def timeline(hub_id: int, contact_id: str) -> Response:
    return jsonify({"results": _portal(hub_id).timeline(contact_id)})


@bp.get("/portals/<int:hub_id>/<any(emails, notes, tasks):kind>")
def engagements(hub_id: int, kind: str) -> Response:
    p = _portal(hub_id)
    with p.lock:
        return jsonify({"results": list(p.engagements(kind).values())})


@bp.get("/portals/<int:hub_id>/properties")
def properties(hub_id: int) -> Response:
    p = _portal(hub_id)
    return jsonify({"results": list(p.properties.values()), "groups": list(p.groups.values())})


@bp.get("/portals/<int:hub_id>/optouts")
def optouts(hub_id: int) -> Response:
    return jsonify({"results": list(_portal(hub_id).optouts)})


@bp.post("/portals/<int:hub_id>/code")
def issue_code(hub_id: int) -> Response:
    _portal(hub_id)
    data = _json()
    return jsonify({"code": emulator().issue_code(hub_id, data.get("scopes"),
                                                  data.get("redirect_uri"))})


@bp.post("/portals/<int:hub_id>/revoke")
def revoke(hub_id: int) -> tuple[str, int]:
    _portal(hub_id)
    emulator().revoke(hub_id)
    return "", 204


@bp.post("/portals/<int:hub_id>/expire-tokens")
def expire_tokens(hub_id: int) -> Response:
    _portal(hub_id)
    return jsonify({"expired": emulator().expire_tokens(hub_id)})


@bp.post("/subscriptions")
def subscribe() -> Response:
    data = _json()
    if not data.get("target_url"):
        raise validation_error("target_url is required")
    subs = [(str(s[0]), s[1] if len(s) > 1 else None) if isinstance(s, list)
            else (str(s["subscriptionType"]), s.get("propertyName"))
            for s in data.get("subscriptions") or []]
    emu = emulator()
    created = emu.subscribe(data["target_url"], subs or None)
    emu.webhooks.duplicate = bool(data.get("duplicate", emu.webhooks.duplicate))
    return jsonify({"results": [{"id": s.id, "subscriptionType": s.subscription_type,
                                 "propertyName": s.property_name} for s in created]})


@bp.post("/faults")
def add_fault() -> tuple[Response, int]:
    data = _json()
    try:
        fault = emulator().faults.add(
            status=data.get("status"), count=int(data.get("count", 1)),
            path_prefix=data.get("path_prefix", ""), delay=float(data.get("delay", 0.0)),
            method=data.get("method"), body=data.get("body"))
    except ValueError as exc:
        raise validation_error(str(exc)) from exc
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
    emu = emulator()
    since = request.args.get("since", 0, type=int)
    rows = [{"method": m, "path": p, "status": s, "hub_id": h}
            for m, p, s, h in emu.requests[since:]]
    return jsonify({"results": rows, "next": since + len(rows), **emu.stats()})


@bp.get("/webhooks")
def webhook_log() -> Response:
    emu = emulator()
    return jsonify({"deliveries": [{"attempt": a, "outcome": o, "events": n}
                                   for a, o, n in emu.webhook_deliveries]})


@bp.post("/drain")
def drain() -> Response:
    return jsonify({"drained": emulator().drain(float(_json().get("timeout", 10.0)))})

