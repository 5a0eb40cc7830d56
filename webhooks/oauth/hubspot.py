"""The HubSpot install: `/oauth/hubspot/install` sends the user to HubSpot's consent screen
with a one-time state, `/oauth/hubspot/callback` checks the state, trades the code for
tokens and records the portal as an account (with the portal's timezone when the account
has none)."""

from __future__ import annotations

from flask import Blueprint, Response

from adapters.hubspot.account import account_timezone
from adapters.hubspot.auth import HubSpotOAuth
from connector.runtime import Runtime
from connector.services.install import Install, record_hubspot_install
from webhooks.http import runtime
from webhooks.oauth.common import Consent, consent, finish, head_only, not_configured, start

bp = Blueprint("hubspot", __name__)

PROVIDER, VENDOR = "hubspot", "HubSpot"
CALLBACK_PATH = "/oauth/hubspot/callback"
VARIABLES = "HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET"


@bp.get("/oauth/hubspot/install")
def install() -> Response:
    rt = runtime()
    oauth = _oauth(rt)
    if oauth is None:
        return not_configured(VENDOR, VARIABLES)
    if (head := head_only()) is not None:
        return head
    settings = rt.settings
    return start(rt, PROVIDER, lambda state: oauth.authorize_url(
        _redirect_uri(rt), settings.hubspot_scopes.split(),
        settings.hubspot_optional_scopes.split(), state))


@bp.get(CALLBACK_PATH)
def callback() -> Response:
    rt = runtime()
    oauth = _oauth(rt)
    if oauth is None:
        return not_configured(VENDOR, VARIABLES)
    if (head := head_only()) is not None:
        return head
    granted = consent(rt, PROVIDER, VENDOR)
    if not isinstance(granted, Consent):
        return granted

    def record() -> Install:
        grant, hub_id, _scopes = oauth.exchange_code(granted.code, _redirect_uri(rt))
        return record_hubspot_install(
            rt.db, rt.vault, rt.settings, hub_id=hub_id, grant=grant, now=rt.clock.now(),
            crm_timezone=lambda: account_timezone(oauth.api_base, grant.access_token,
                                                  timeout=oauth.timeout))

    return finish(rt, VENDOR, "portal", record)


def _oauth(rt: Runtime) -> HubSpotOAuth | None:
    settings = rt.settings
    if not settings.hubspot_client_id or not settings.hubspot_client_secret:
        return None
    return HubSpotOAuth(settings.hubspot_client_id, settings.hubspot_client_secret,
                        settings.hubspot_api_base, settings.hubspot_auth_url,
                        settings.crm_request_timeout, clock=rt.clock)


def _redirect_uri(rt: Runtime) -> str:
    return rt.settings.base_url + CALLBACK_PATH
