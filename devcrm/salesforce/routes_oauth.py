"""OAuth web-server flow: /services/oauth2/authorize (a stand-in consent that approves at
once), /services/oauth2/token (authorization_code with PKCE, refresh_token) and the
identity URL /id/<org>/<user>."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from devcrm.salesforce.app_helpers import token_error
from devcrm.salesforce.auth import s256
from devcrm.salesforce.context import bearer_org, emulator
from devcrm.salesforce.core import API_VERSION
from devcrm.salesforce.errors import SfError

bp = Blueprint("sf_oauth", __name__)


@bp.get("/services/oauth2/authorize")
def authorize() -> BaseResponse | tuple[Response, int]:
    emu = emulator()
    args = request.args
    if args.get("client_id") != emu.client_id:
        return token_error("invalid_client_id", "client identifier invalid")
    if args.get("response_type") != "code" or not args.get("redirect_uri"):
        return token_error("unsupported_response_type", "response type not supported")
    org = emu.orgs.get(args.get("org_id", "")) or emu.first_org()
    if org is None:
        return token_error("access_denied", "no org to log in to")
    method = args.get("code_challenge_method", "S256") if args.get("code_challenge") else None
    code = emu.tokens.issue_code(org.org_id, args["redirect_uri"], args.get("code_challenge"),
                                 method)
    query = {"code": code, **({"state": args["state"]} if "state" in args else {})}
    sep = "&" if "?" in args["redirect_uri"] else "?"
    return redirect(args["redirect_uri"] + sep + urlencode(query), code=302)


@bp.post("/services/oauth2/token")
def token() -> Response | tuple[Response, int]:
    emu = emulator()
    form = request.form
    if form.get("client_id") != emu.client_id:
        return token_error("invalid_client_id", "client identifier invalid")
    if "client_secret" in form and form["client_secret"] != emu.client_secret:
        return token_error("invalid_client", "invalid client credentials")
    grant = form.get("grant_type")
    if grant == "authorization_code":
        code = emu.tokens.take_code(form.get("code", ""))
        if code is None or code.org_id not in emu.orgs:
            return token_error("invalid_grant", "invalid authorization code")
        if code.redirect_uri is not None and form.get("redirect_uri") != code.redirect_uri:
            return token_error("redirect_uri_mismatch", "redirect_uri must match configuration")
        if code.challenge is not None and s256(form.get("code_verifier", "")) != code.challenge:
            return token_error("invalid_grant", "invalid code verifier")
        if code.challenge is None and "client_secret" not in form:
            return token_error("invalid_client", "invalid client credentials")
        return jsonify(_grant(code.org_id, with_refresh=True))
    if grant == "refresh_token":
        org_id = emu.tokens.refresh_owner(form.get("refresh_token", ""))
        if org_id is None:
            return token_error("invalid_grant", "expired access/refresh token")
        return jsonify(_grant(org_id, with_refresh=False))
    return token_error("unsupported_grant_type", "grant type not supported")


def _grant(org_id: str, *, with_refresh: bool) -> dict[str, Any]:
    emu = emulator()
    org = emu.org(org_id)
    identity = emu.identity_url(org)
    issued_at = str(int(emu.clock() * 1000))
    signature = base64.b64encode(hmac.new(emu.client_secret.encode(),
                                          (identity + issued_at).encode(),
                                          hashlib.sha256).digest()).decode()
    answer: dict[str, Any] = {"access_token": emu.tokens.issue_access(org_id)}
    if with_refresh:
        answer["refresh_token"] = emu.tokens.issue_refresh(org_id)
    answer.update(signature=signature, scope="api refresh_token", instance_url=emu.url,
                  id=identity, token_type="Bearer", issued_at=issued_at)
    return answer


@bp.get("/id/<org_id>/<user_id>")
def identity(org_id: str, user_id: str) -> Response:
    emu = emulator()
    owner = bearer_org()
    if owner is None or owner[:15] != org_id[:15] or owner not in emu.orgs:
        raise SfError(403, "Bad_OAuth_Token", "Bad_OAuth_Token")
    org = emu.org(owner)
    if org.user_id[:15] != user_id[:15]:
        raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
    base = f"{emu.url}/services/data/v{{version}}/"
    return jsonify({
        "id": emu.identity_url(org), "asserted_user": True, "user_id": org.user_id,
        "organization_id": org.org_id, "username": f"admin@{org.org_id.lower()}.devcrm",
        "nick_name": "admin", "display_name": "Devcrm Admin",
        "email": f"admin@{org.org_id.lower()}.devcrm", "active": True, "user_type": "STANDARD",
        "language": "en_US", "locale": "en_US", "utcOffset": 0,
        "urls": {"enterprise": f"{emu.url}/services/Soap/c/{{version}}/{org.org_id[:15]}",
                 "partner": f"{emu.url}/services/Soap/u/{{version}}/{org.org_id[:15]}",
                 "rest": base, "sobjects": base + "sobjects/", "query": base + "query/",
                 "profile": f"{emu.url}/{org.user_id}"},
        "api_version": API_VERSION,
    })
