"""What every CRM's install shares: the single-use state, the callback's checks before any
token is asked for, recording the install, and the small HTML pages the user sees.

The state lives in Redis for ten minutes and is taken with GETDEL (single use); it keeps
what the callback needs of the install (Salesforce: the PKCE verifier). A HEAD never acts:
it neither makes a state nor spends one (link scanners prefetch)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from flask import Response, request

from adapters.errors import CRMError
from connector.runtime import Runtime
from connector.services.accounts import AccountError
from connector.services.install import Install
from connector.workspaces import WorkspaceError

STATE_TTL = 600  # seconds a consent screen may stay open
NO_CACHE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
MAX_STATE, MAX_CODE = 200, 2000  # characters; ours are 43, the CRMs' codes far shorter


def state_key(provider: str, state: str) -> str:
    return f"oauth:{provider}:state:{state}"


def not_configured(vendor: str, variables: str) -> Response:
    return page(f"{vendor} install not configured",
                f"Set {variables} (the app's credentials) to install from {vendor}.", 503)


def head_only() -> Response | None:
    """200 and nothing done for a HEAD (a link scanner's prefetch); None for a GET."""
    return Response(status=200, headers=NO_CACHE) if request.method == "HEAD" else None


def start(rt: Runtime, provider: str, url: Callable[[str], str], keep: bytes = b"1"
          ) -> Response:
    """A new state keeping `keep`, and the redirect to the consent screen `url(state)`."""
    state = secrets.token_urlsafe(32)
    rt.redis.set(state_key(provider, state), keep, ex=STATE_TTL)
    return Response(status=302, headers={"Location": url(state), **NO_CACHE})


@dataclass(frozen=True)
class Consent:
    """What the consent screen sent back: the code, and what the install kept with it."""

    code: str
    kept: bytes


def consent(rt: Runtime, provider: str, vendor: str) -> Consent | Response:
    """The callback's checks, or the 400 page that ends it. The state is spent first, so a
    declined or broken consent cannot be replayed either."""
    state = request.args.get("state", "")
    kept = rt.redis.getdel(state_key(provider, state)) if 0 < len(state) <= MAX_STATE else None
    if "error" in request.args:  # the user said no, or the CRM could not ask
        detail = request.args.get("error_description") or request.args["error"]
        return page("Not installed", f"{vendor} did not grant access: {detail}", 400)
    if not isinstance(kept, bytes):
        return page("Install link expired",
                    "This install link is unknown, expired or already used: "
                    "start the install again.", 400)
    code = request.args.get("code", "")
    if not code or len(code) > MAX_CODE:
        return page("Not installed", f"{vendor} sent no authorization code.", 400)
    return Consent(code, kept)


def finish(rt: Runtime, vendor: str, home: str, install: Callable[[], Install]) -> Response:
    """Run `install` (trade the code, record the account) and say how it went; `home` is
    what the account's CRM id names ("portal", "org")."""
    try:
        installed = install()
    except CRMError as exc:
        return page("Not installed", f"Trading the code with {vendor} failed: {exc}", 502)
    except AccountError as exc:
        return page("Not installed", f"{vendor} answered an unusable account: {exc}", 502)
    except WorkspaceError:
        return page("Installed without flows",
                    f"The {home} is connected, but this deployment's default workspace "
                    "is invalid: nothing was deployed (see `connector check`).", 500)
    # This process sees the new tokens and the reconnected account at once (others
    # within their caches' few seconds).
    rt.crms.forget(installed.account_id)
    rt.crm_routes.forget()
    verb = "Installed" if installed.created else "Reconnected"
    return page(f"{verb} for {home} {installed.external_id}",
                f"Account {installed.account_id} is connected; "
                f"workspace version {installed.workspace_version}.", 200)


def page(title: str, body: str, status: int) -> Response:
    html = (
        f'<!doctype html><html lang="en"><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width"><title>{escape(title)}</title>'
        f'<body style="font-family:sans-serif;max-width:32rem;margin:4rem auto">'
        f"<h1>{escape(title)}</h1><p>{escape(body)}</p></body></html>"
    )
    return Response(html, status=status, mimetype="text/html", headers=NO_CACHE)
