"""Every admin API request but the document is an account's: the same API key as
POST /v1/events (`Authorization: Bearer <key>` or `X-API-Key`), checked before anything
else, so an anonymous caller learns nothing (not even whether its body was valid).

The contact activity endpoints also take HubSpot's own signature: the CRM app card calls
them with `hubspot.fetch`, which signs the request (v3, the app's client secret) instead
of carrying our key. The account is then the connected HubSpot portal named by the
signed `portalId` query parameter, so a signature for one portal never reads another."""

from __future__ import annotations

from typing import Any

from flask import g, request
from werkzeug.exceptions import BadRequest

from adapters.hubspot.signature import V3_HEADER, SignatureError, signed_uri, verify_request
from webhooks.http import authenticated_account_id, error, read_json_body, read_raw_body, runtime

# Endpoints that take a JSON body: it must be JSON, and valid JSON, before validation.
JSON_BODY_ENDPOINTS: set[str] = set()
# The same, but the body may be left out altogether (every field of it is optional).
OPTIONAL_JSON_BODY_ENDPOINTS: set[str] = set()
PUBLIC_ENDPOINTS: set[str] = set()
# Read-only endpoints the HubSpot app card calls, signed by HubSpot (never deploys, pauses
# or anything that writes).
HUBSPOT_SIGNED_ENDPOINTS = frozenset(
    {"admin_api.contact_activity_by_crm_id", "admin_api.contact_activity_by_email"}
)


def current_account_id() -> int:
    """The authenticated account of this request (set by `require_api_key`)."""
    account_id: int = g.api_account_id
    return account_id


def require_api_key() -> Any:
    """Blueprint `before_request`: 401 without a valid key; 400/415 for a JSON endpoint
    whose body is not JSON (spectree alone would read a broken body as `{}`)."""
    if request.method == "OPTIONS" or request.endpoint in PUBLIC_ENDPOINTS:
        return None  # Flask answers OPTIONS itself; it runs no view
    if request.endpoint in HUBSPOT_SIGNED_ENDPOINTS and request.headers.get(V3_HEADER):
        found = _hubspot_signed_account_id()
        if isinstance(found, tuple):
            return found
        account_id: int | None = found
    else:
        account_id = authenticated_account_id()
    if account_id is None:
        return error(401, "missing or unknown API key")
    g.api_account_id = account_id
    if request.endpoint in JSON_BODY_ENDPOINTS or (
        request.endpoint in OPTIONAL_JSON_BODY_ENDPOINTS and _has_body()
    ):
        return _check_json_body()
    return None


def _hubspot_signed_account_id() -> int | tuple[Any, int]:
    """The connected HubSpot account of the signed `portalId`, or a 401 saying why not."""
    rt = runtime()
    secret = rt.settings.hubspot_client_secret
    if not secret:
        return error(401, "HubSpot-signed requests are not configured: set "
                          "HUBSPOT_CLIENT_SECRET")
    try:
        verify_request(
            secret,
            request.headers,
            method=request.method,
            uri=signed_uri(rt.settings.base_url, request.path, request.query_string),
            body=read_raw_body(cache=True),
            now=rt.clock.now(),
            legacy=False,  # v1/v2 carry no timestamp: a captured request replays forever
        )
    except SignatureError as exc:
        return error(401, str(exc))
    portals = request.args.getlist("portalId")
    if len(portals) != 1 or not portals[0].isascii() or not portals[0].isdigit():
        raise BadRequest("a HubSpot-signed request names its portal in one portalId")
    portal = str(int(portals[0]))
    account_id = rt.crm_routes.connected("hubspot", {portal}).get(portal)
    if account_id is None:
        return error(401, f"HubSpot portal {portal} is not connected")
    return account_id


def _has_body() -> bool:
    """Whether the request carries a body (a length, or chunks without one)."""
    return bool(request.content_length) or "chunked" in request.headers.get(
        "Transfer-Encoding", "").lower()


def _check_json_body() -> Any:
    if request.mimetype != "application/json":
        return error(415, "send the body as JSON with Content-Type: application/json")
    # The same strict reader as POST /v1/events (400/413 with a message); the bytes are
    # cached for spectree, which parses them again.
    read_json_body(cache=True)
    return None
