"""The Flask app factory: faults, session check and the daily API limit before every REST
handler; Sforce-Limit-Info and the request log after it. The /_emulator control endpoints
pass by all of that: no fault, session or limit applies to them and the log leaves them out."""

from __future__ import annotations

import time

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from devcrm.salesforce.context import bearer_org, emulator
from devcrm.salesforce.core import Emulation
from devcrm.salesforce.errors import SfError, error_list
from devcrm.salesforce.routes_composite import bp as composite_bp
from devcrm.salesforce.routes_control import bp as control_bp
from devcrm.salesforce.routes_oauth import bp as oauth_bp
from devcrm.salesforce.routes_query import bp as query_bp
from devcrm.salesforce.routes_sobjects import bp as sobjects_bp

API_PREFIX = "/services/data/"
CONTROL_PREFIX = "/_emulator"


def create_app(emulation: Emulation) -> Flask:
    app = Flask("devcrm.salesforce")
    app.extensions["salesforce_emulator"] = emulation
    app.json.sort_keys = False  # type: ignore[attr-defined]  # Salesforce key order
    for blueprint in (oauth_bp, query_bp, sobjects_bp, composite_bp, control_bp):
        app.register_blueprint(blueprint)
    app.before_request(_guard)
    app.after_request(_finish)
    app.register_error_handler(SfError, _sf_error)
    app.register_error_handler(HTTPException, _http_error)
    return app


def _guard() -> Response | tuple[Response, int] | None:
    g.org_id, g.used = None, None
    if request.path.startswith(CONTROL_PREFIX):
        return None
    emu = emulator()
    fault = emu.faults.take(request.method, request.path)
    if fault is not None:
        if fault.delay:
            time.sleep(fault.delay)
        if fault.status is not None:
            return jsonify(error_list("UNKNOWN_EXCEPTION", "An unexpected error occurred. "
                                      "Please include this ErrorId if you contact support: "
                                      "devcrm")), fault.status
    if not request.path.startswith(API_PREFIX):
        return None
    g.org_id = bearer_org()
    if g.org_id is None:
        raise SfError(401, "INVALID_SESSION_ID", "Session expired or invalid")
    admitted, g.used = emu.limiter.admit(g.org_id)
    if not admitted:
        raise SfError(403, "REQUEST_LIMIT_EXCEEDED",
                      f"TotalRequests Limit exceeded. ({g.used}/{emu.limiter.limit})")
    return None


def _finish(response: Response) -> Response:
    if request.path.startswith(CONTROL_PREFIX):
        return response
    emu = emulator()
    if g.get("used") is not None:
        response.headers["Sforce-Limit-Info"] = f"api-usage={g.used}/{emu.limiter.limit}"
    emu.record_request(request.method, request.path, response.status_code, g.get("org_id"))
    return response


def _sf_error(exc: SfError) -> tuple[Response, int]:
    return jsonify(exc.body), exc.status


def _http_error(exc: HTTPException) -> tuple[Response, int]:
    status = exc.code or 500
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(status, "UNKNOWN_EXCEPTION")
    message = "The requested resource does not exist" if status == 404 else exc.name
    return jsonify(error_list(code, message)), status
