"""The HubSpot install: `/oauth/hubspot/install` sends the user to HubSpot's consent screen
with a one-time state, `/oauth/hubspot/callback` checks the state, trades the code for
tokens and records the portal as an account.

The state lives in Redis for ten minutes and is taken with GETDEL (single use). A HEAD
never acts: it neither makes a state nor spends one (link scanners prefetch)."""

from __future__ import annotations

import secrets
from html import escape

from flask import Blueprint, Response, request

from adapters.errors import CRMError
from adapters.hubspot.auth import HubSpotOAuth
from connector.runtime import Runtime
from connector.services.accounts import AccountError
from connector.services.install import record_hubspot_install
from connector.workspaces import WorkspaceError
from webhooks.http import runtime

bp = Blueprint("oauth", __name__)

STATE_TTL = 600  # seconds a consent screen may stay open
STATE_KEY = "oauth:hubspot:state:"
CALLBACK_PATH = "/oauth/hubspot/callback"
NO_CACHE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@bp.get("/oauth/hubspot/install")
def install() -> Response:
    rt = runtime()
    oauth = _oauth(rt)
    if oauth is None:
        return _not_configured()
    if request.method == "HEAD":
        return Response(status=200, headers=NO_CACHE)
    state = secrets.token_urlsafe(32)
    rt.redis.set(STATE_KEY + state, b"1", ex=STATE_TTL)
    settings = rt.settings
    url = oauth.authorize_url(_redirect_uri(rt), settings.hubspot_scopes.split(),
                              settings.hubspot_optional_scopes.split(), state)
    return Response(status=302, headers={"Location": url, **NO_CACHE})


@bp.get(CALLBACK_PATH)
def callback() -> Response:
    rt = runtime()
    oauth = _oauth(rt)
    if oauth is None:
        return _not_configured()
    if request.method == "HEAD":
        return Response(status=200, headers=NO_CACHE)
    state = request.args.get("state", "")
    known = bool(state) and len(state) <= 200 and rt.redis.getdel(STATE_KEY + state) is not None
    if "error" in request.args:  # the user said no, or HubSpot could not ask
        detail = request.args.get("error_description") or request.args["error"]
        return _page("Not installed", f"HubSpot did not grant access: {detail}", 400)
    if not known:
        return _page("Install link expired",
                     "This install link is unknown, expired or already used: "
                     "start the install again.", 400)
    code = request.args.get("code", "")
    if not code or len(code) > 2000:
        return _page("Not installed", "HubSpot sent no authorization code.", 400)
    try:
        grant, hub_id, _scopes = oauth.exchange_code(code, _redirect_uri(rt))
        installed = record_hubspot_install(rt.db, rt.vault, rt.settings, hub_id=hub_id,
                                           grant=grant, now=rt.clock.now())
    except CRMError as exc:
        return _page("Not installed", f"Trading the code with HubSpot failed: {exc}", 502)
    except AccountError as exc:
        return _page("Not installed", f"HubSpot answered an unusable account: {exc}", 502)
    except WorkspaceError:
        return _page("Installed without flows",
                     "The portal is connected, but this deployment's default workspace "
                     "is invalid: nothing was deployed (see `connector check`).", 500)
    verb = "Installed" if installed.created else "Reconnected"
    return _page(f"{verb} for portal {installed.hub_id}",
                 f"Account {installed.account_id} is connected; "
                 f"workspace version {installed.workspace_version}.", 200)


def _oauth(rt: Runtime) -> HubSpotOAuth | None:
    settings = rt.settings
    if not settings.hubspot_client_id or not settings.hubspot_client_secret:
        return None
    return HubSpotOAuth(settings.hubspot_client_id, settings.hubspot_client_secret,
                        settings.hubspot_api_base, settings.hubspot_auth_url,
                        settings.crm_request_timeout, clock=rt.clock)


def _redirect_uri(rt: Runtime) -> str:
    return rt.settings.base_url + CALLBACK_PATH


def _not_configured() -> Response:
    return _page("HubSpot install not configured",
                 "Set HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET (the app's credentials) "
                 "to install from HubSpot.", 503)


def _page(title: str, body: str, status: int) -> Response:
    html = (
        f'<!doctype html><html lang="en"><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width"><title>{escape(title)}</title>'
        f'<body style="font-family:sans-serif;max-width:32rem;margin:4rem auto">'
        f"<h1>{escape(title)}</h1><p>{escape(body)}</p></body></html>"
    )
    return Response(html, status=status, mimetype="text/html", headers=NO_CACHE)
