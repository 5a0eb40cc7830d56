"""The Flask app factory: auth, rate limits and faults before every API handler, HubSpot's
rate-limit headers and the request log after it."""

from __future__ import annotations

import math
import time

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from devcrm.hubspot.context import emulator
from devcrm.hubspot.core import Emulation
from devcrm.hubspot.errors import ApiError, error_body
from devcrm.hubspot.limits import Fault, rate_limit_body
from devcrm.hubspot.routes_account import bp as account_bp
from devcrm.hubspot.routes_associations import bp as associations_bp
from devcrm.hubspot.routes_contacts import bp as contacts_bp
from devcrm.hubspot.routes_control import bp as control_bp
from devcrm.hubspot.routes_engagements import bp as engagements_bp
from devcrm.hubspot.routes_oauth import bp as oauth_bp
from devcrm.hubspot.routes_preferences import bp as preferences_bp
from devcrm.hubspot.routes_properties import bp as properties_bp

BLUEPRINTS = (oauth_bp, account_bp, contacts_bp, engagements_bp, associations_bp,
              properties_bp, preferences_bp, control_bp)

CONTROL_PREFIX = "/_emulator"
DAILY_LIMIT = 250_000  # private apps only; OAuth calls carry no daily headers


def create_app(emulation: Emulation) -> Flask:
    app = Flask("devcrm.hubspot")
    app.extensions["hubspot_emulator"] = emulation
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.before_request(_guard)
    app.after_request(_finish)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    return app


def _is_search() -> bool:
    return request.method == "POST" and request.path.rstrip("/").endswith("/search")


def _guard() -> Response | tuple[Response, int] | None:
    g.hub_id, g.remaining, g.private, g.search = None, None, False, _is_search()
    if request.path.startswith(CONTROL_PREFIX):
        return None
    emu = emulator()
    fault = emu.faults.take(request.method, request.path)
    if fault is not None:
        if fault.delay:
            time.sleep(fault.delay)
        if fault.status is not None:
            return _fault_response(fault)
    if request.path.startswith("/oauth"):
        return None
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    hub_id, late, access = emu.tokens.lookup(token) if token else (None, None, None)
    if hub_id is None:
        raise ApiError(401, error_body(
            "Authentication credentials not found. This API supports OAuth 2.0 authentication "
            "and you can find more details at https://developers.hubspot.com/docs/methods/auth/"
            "oauth-overview", "INVALID_AUTHENTICATION"))
    if late is not None:
        raise ApiError(401, error_body(
            f"The OAuth token used to make this call expired {int(late)} second(s) ago.",
            "EXPIRED_AUTHENTICATION"))
    g.hub_id, g.private = hub_id, access is None
    limiter = emu.search_limiter if g.search else emu.limiter
    admitted, g.remaining = limiter.admit(hub_id)
    if not admitted:
        policy = "SECONDLY" if g.search else "TEN_SECONDLY_ROLLING"
        return jsonify(rate_limit_body(policy, hub_id, emu.app_id)), 429
    return None


def _fault_response(fault: Fault) -> Response | tuple[Response, int]:
    assert fault.status is not None
    if fault.status == 429:
        g.remaining = 0
        return jsonify(rate_limit_body("TEN_SECONDLY_ROLLING", None, emulator().app_id)), 429
    kind = fault.body or ("html" if fault.status in (502, 503, 504) else "json")
    if kind == "html":
        html = (f"<html><head><title>{fault.status}</title></head><body><h1>{fault.status}"
                "</h1><p>The server is temporarily unable to service your request.</p>"
                "</body></html>")
        return Response(html, status=fault.status, mimetype="text/html")
    return jsonify(error_body("internal error", "INTERNAL_ERROR")), fault.status


def _finish(response: Response) -> Response:
    if request.path.startswith(CONTROL_PREFIX):
        return response
    emu = emulator()
    # Search answers carry no rate-limit headers (its 5/s limit is separate).
    if g.get("remaining") is not None and not g.get("search"):
        response.headers["X-HubSpot-RateLimit-Max"] = str(emu.limiter.limit)
        response.headers["X-HubSpot-RateLimit-Remaining"] = str(g.remaining)
        response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(
            int(emu.limiter.window * 1000))
        # HubSpot still sends the secondly pair, documented as deprecated and not enforced.
        secondly = math.ceil(emu.limiter.limit / emu.limiter.window)
        used = emu.limiter.recent(g.hub_id) if g.get("hub_id") is not None else 0
        response.headers["X-HubSpot-RateLimit-Secondly"] = str(secondly)
        response.headers["X-HubSpot-RateLimit-Secondly-Remaining"] = str(max(0, secondly - used))
        if g.get("private"):
            response.headers["X-HubSpot-RateLimit-Daily"] = str(DAILY_LIMIT)
            response.headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(DAILY_LIMIT - 1)
    emu.record_request(request.method, request.path, response.status_code, g.get("hub_id"))
    return response


def _api_error(exc: ApiError) -> tuple[Response, int]:
    return jsonify(exc.body), exc.status


def _http_error(exc: HTTPException) -> tuple[Response, int]:
    status = exc.code or 500
    category = {404: "OBJECT_NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(status, "VALIDATION_ERROR")
    return jsonify(error_body(exc.description or exc.name, category)), status
