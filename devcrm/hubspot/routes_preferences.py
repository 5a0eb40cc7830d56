"""Communication preferences: v4 unsubscribe-all and statuses, v3 per-subscription
unsubscribe and status. Unsubscribing from all sets hs_email_optout on the contact."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, jsonify, request

from devcrm.hubspot.context import body, portal
from devcrm.hubspot.errors import validation_error
from devcrm.hubspot.records import iso
from devcrm.hubspot.state import Portal

bp = Blueprint("hubspot_preferences", __name__, url_prefix="/communication-preferences")
SUBSCRIPTIONS = (("1", "Marketing Information"), ("2", "One to One"))


def _channel() -> str:
    channel = request.args.get("channel", "")
    if channel != "EMAIL":
        raise validation_error("channel must be EMAIL")
    return channel


def _v4_status(p: Portal, email: str, sub_id: str, name: str) -> dict[str, Any]:
    entry = p.opted_out(email, sub_id)
    return {"businessUnitId": 0, "channel": "EMAIL", "subscriberIdString": email,
            "subscriptionId": int(sub_id), "subscriptionName": name,
            "status": "NOT_SUBSCRIBED" if entry else "SUBSCRIBED",
            "source": "Public API" if entry else None, "legalBasis": None,
            "legalBasisExplanation": None, "setStatusSuccessReason": None,
            "timestamp": entry["timestamp"] if entry else iso(p.clock())}


def _complete(results: list[dict[str, Any]], started: float) -> Response:
    return jsonify({"status": "COMPLETE", "results": results, "startedAt": iso(started),
                    "completedAt": iso(time.time())})


@bp.post("/v4/statuses/<email>/unsubscribe-all")
def unsubscribe_all(email: str) -> Response:
    started, p = time.time(), portal()
    channel = _channel()
    p.opt_out(email, channel=channel)
    results = [{**_v4_status(p, email, sub_id, name),
                "setStatusSuccessReason": "UNSUBSCRIBE_FROM_ALL_OCCURRED"}
               for sub_id, name in SUBSCRIPTIONS]
    return _complete(results, started)


@bp.get("/v4/statuses/<email>/unsubscribe-all")
def unsubscribed_all(email: str) -> Response:
    started, p = time.time(), portal()
    _channel()
    entry = p.opted_out(email)
    results = [] if entry is None or entry["subscriptionId"] is not None else [
        {"channel": "EMAIL", "subscriberIdString": email, "status": "NOT_SUBSCRIBED",
         "timestamp": entry["timestamp"], "wideStatusType": "PORTAL_WIDE", "businessUnitId": 0}]
    return _complete(results, started)


@bp.get("/v4/statuses/<email>")
def statuses(email: str) -> Response:
    started, p = time.time(), portal()
    _channel()
    return _complete([_v4_status(p, email, s, n) for s, n in SUBSCRIPTIONS], started)


def _v3_status(p: Portal, email: str, sub_id: str, name: str) -> dict[str, Any]:
    entry = p.opted_out(email, sub_id)
    return {"id": sub_id, "name": name, "description": name, "status":
            "NOT_SUBSCRIBED" if entry else "SUBSCRIBED", "sourceOfStatus":
            "PORTAL_WIDE_STATUS" if entry and entry["subscriptionId"] is None
            else "SUBSCRIPTION_STATUS", "legalBasis": None, "legalBasisExplanation": None,
            "preferenceGroupName": None, "brandId": None}


@bp.post("/v3/unsubscribe")
def v3_unsubscribe() -> Response:
    p, data = portal(), body()
    email, sub_id = data.get("emailAddress"), str(data.get("subscriptionId", ""))
    names = dict(SUBSCRIPTIONS)
    if not email or sub_id not in names:
        raise validation_error("emailAddress and a known subscriptionId are required")
    p.opt_out(email, subscription_id=sub_id)
    return jsonify(_v3_status(p, email, sub_id, names[sub_id]))


@bp.get("/v3/status/email/<email>")
def v3_status(email: str) -> Response:
    p = portal()
    return jsonify({"recipient": email,
                    "subscriptionStatuses": [_v3_status(p, email, s, n) for s, n in SUBSCRIPTIONS]})
