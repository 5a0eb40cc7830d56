"""OAuth: a stand-in consent screen, the token endpoints (v1 and 2026-03/v3) and token
introspection."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from devcrm.hubspot.auth import DEFAULT_SCOPES, Grant
from devcrm.hubspot.context import emulator
from devcrm.hubspot.errors import correlation_id

bp = Blueprint("hubspot_oauth", __name__, url_prefix="/oauth")


def _oauth_error(status: str, message: str, code: int = 400) -> tuple[Response, int]:
    return jsonify({"status": status, "message": message, "correlationId": correlation_id()}), code


@bp.get("/authorize")
def authorize() -> BaseResponse | tuple[Response, int]:
    emu = emulator()
    if request.args.get("client_id") != emu.client_id:
        return _oauth_error("BAD_CLIENT_ID", "missing or unknown client id")
    redirect_uri = request.args.get("redirect_uri")
    if not redirect_uri:
        return _oauth_error("BAD_REDIRECT_URI", "missing redirect_uri")
    hub_id = request.args.get("hub_id", type=int) or emu.first_hub_id()
    if hub_id is None or hub_id not in emu.portals:
        return _oauth_error("BAD_HUB_ID", "no portal to install the app into")
    scopes = (request.args.get("scope", "") + " " + request.args.get("optional_scope", "")).split()
    code = emu.tokens.issue_code(hub_id, scopes or list(DEFAULT_SCOPES), redirect_uri)
    query = {"code": code}
    if "state" in request.args:
        query["state"] = request.args["state"]
    sep = "&" if "?" in redirect_uri else "?"
    return redirect(f"{redirect_uri}{sep}{urlencode(query)}", code=302)


def _token(version: str) -> Response | tuple[Response, int]:
    emu, form = emulator(), request.form
    grant_type = form.get("grant_type")
    if form.get("client_id") != emu.client_id:
        return _oauth_error("BAD_CLIENT_ID", "missing or unknown client id")
    if form.get("client_secret") != emu.client_secret:
        return _oauth_error("BAD_CLIENT_SECRET", "missing or invalid client secret")
    grant: Grant | None
    if grant_type == "authorization_code":
        pending = emu.tokens.code_grant(form.get("code", ""))
        if pending is None:
            return _oauth_error("BAD_AUTH_CODE", "missing or unknown auth code")
        if pending.redirect_uri is not None and form.get("redirect_uri") != pending.redirect_uri:
            return _oauth_error("BAD_REDIRECT_URI",
                                "redirect_uri does not match initial auth code URL")
        grant = emu.tokens.redeem_code(form.get("code", ""))
        if grant is None:  # redeemed concurrently
            return _oauth_error("BAD_AUTH_CODE", "missing or unknown auth code")
        refresh = emu.tokens.new_refresh(grant)
    elif grant_type == "refresh_token":
        refresh = form.get("refresh_token", "")
        grant = emu.tokens.refresh_grant(refresh)
        if grant is None:
            return _oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
    else:
        return _oauth_error("BAD_GRANT_TYPE", "missing or unknown grant_type")
    access = emu.tokens.new_access(grant, refresh)
    payload: dict[str, Any] = {"token_type": "bearer", "refresh_token": refresh,
                               "access_token": access.token, "expires_in": emu.tokens.lifetime}
    if version != "v1":
        payload.update(hub_id=grant.hub_id, scopes=list(grant.scopes))
    return jsonify(payload)


@bp.post("/v1/token")
def token_v1() -> Response | tuple[Response, int]:
    return _token("v1")


@bp.post("/2026-03/token")
@bp.post("/v3/token")
def token_v3() -> Response | tuple[Response, int]:
    return _token("v3")


@bp.get("/v1/access-tokens/<token>")
def access_token_info(token: str) -> Response | tuple[Response, int]:
    emu = emulator()
    hub_id, late, access = emu.tokens.lookup(token)
    if access is None or hub_id is None:
        return _oauth_error("BAD_ACCESS_TOKEN", "missing or unknown access token", 404)
    if late is not None:
        return _oauth_error("EXPIRED_ACCESS_TOKEN", "access token is expired", 400)
    expires_in = int(access.expires_at - emu.tokens.clock())
    return jsonify({"token": token, "user": "dev@example.com", "hub_domain": f"{hub_id}.example",
                    "scopes": access.scopes, "hub_id": hub_id, "app_id": emu.app_id,
                    "expires_in": expires_in, "user_id": 1, "token_type": "access"})


@bp.get("/v1/refresh-tokens/<token>")
def refresh_token_info(token: str) -> Response | tuple[Response, int]:
    emu = emulator()
    grant = emu.tokens.refresh_grant(token)
    if grant is None:
        return _oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token", 404)
    return jsonify({"token": token, "user": "dev@example.com",
                    "hub_domain": f"{grant.hub_id}.example", "scopes": grant.scopes,
                    "hub_id": grant.hub_id, "client_id": emu.client_id, "user_id": 1,
                    "token_type": "refresh"})


@bp.delete("/v1/refresh-tokens/<token>")
def delete_refresh_token(token: str) -> tuple[str, int] | tuple[Response, int]:
    if not emulator().tokens.delete_refresh(token):
        return _oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token", 404)
    return "", 204
