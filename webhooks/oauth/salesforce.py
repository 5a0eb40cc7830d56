"""The Salesforce install, the web-server flow with PKCE: `/oauth/salesforce/install` sends
the admin to the login URL's authorize page with a one-time state and an S256 challenge
(the verifier kept with the state), `/oauth/salesforce/callback` trades the code and the
verifier for tokens and records the org named by the identity URL as an account (with the
org's timezone when the account has none).

The login URL is the deployment's (SALESFORCE_LOGIN_URL: production, sandbox or a My
Domain), never one from the query: the install is no open redirect, and the refresh grant
later goes to the same host."""

from __future__ import annotations

from flask import Blueprint, Response

from adapters.port import TokenGrant
from adapters.salesforce.auth import SalesforceOAuth, new_pkce
from connector.runtime import Runtime
from connector.services.install import Install, record_salesforce_install
from webhooks.http import runtime
from webhooks.oauth.common import Consent, consent, finish, head_only, not_configured, start

bp = Blueprint("salesforce", __name__)

PROVIDER, VENDOR = "salesforce", "Salesforce"
CALLBACK_PATH = "/oauth/salesforce/callback"
VARIABLES = "SALESFORCE_CLIENT_ID (and SALESFORCE_CLIENT_SECRET if the app requires it)"


@bp.get("/oauth/salesforce/install")
def install() -> Response:
    rt = runtime()
    oauth = _oauth(rt)
    if oauth is None:
        return not_configured(VENDOR, VARIABLES)
    if (head := head_only()) is not None:
        return head
    pkce = new_pkce()
    return start(rt, PROVIDER, lambda state: oauth.authorize_url(
        redirect_uri=_redirect_uri(rt), scopes=rt.settings.salesforce_scopes.split(),
        state=state, code_challenge=pkce.challenge), keep=pkce.verifier.encode())


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
        authorized = oauth.exchange_code(granted.code, redirect_uri=_redirect_uri(rt),
                                         code_verifier=granted.kept.decode())
        grant = authorized.grant
        return record_salesforce_install(
            rt.db, rt.vault, rt.settings, org_id=authorized.org_id, grant=grant,
            now=rt.clock.now(), crm_timezone=lambda: _org_timezone(rt, grant))

    return finish(rt, VENDOR, "org", record)


def _oauth(rt: Runtime) -> SalesforceOAuth | None:
    settings = rt.settings
    if not settings.salesforce_client_id:
        return None
    return SalesforceOAuth(login_url=settings.salesforce_login_url,
                           client_id=settings.salesforce_client_id,
                           client_secret=settings.salesforce_client_secret,
                           timeout=settings.crm_request_timeout)


def _org_timezone(rt: Runtime, grant: TokenGrant) -> str:
    # Imported here: the query's module brings simple-salesforce, which the web app's
    # other routes never need.
    from adapters.salesforce.account import account_timezone

    assert grant.instance_url is not None  # exchange_code refuses a grant without one
    return account_timezone(grant.instance_url, grant.access_token,
                            timeout=rt.settings.crm_request_timeout)


def _redirect_uri(rt: Runtime) -> str:
    return rt.settings.base_url + CALLBACK_PATH
