"""The installed org's own settings, read once at install: its default timezone, the
Organization's `TimeZoneSidKey` (an IANA name such as "America/Los_Angeles"), by SOQL
with the fresh session. One REST call (it counts against the org's daily API requests),
before the account has a client of its own."""

from __future__ import annotations

from typing import Any

import requests

from adapters.errors import PermanentCRMError, RetryableCRMError
from adapters.salesforce.client import API_VERSION

TIMEZONE_QUERY = "SELECT TimeZoneSidKey FROM Organization"


def account_timezone(instance_url: str, access_token: str, *, timeout: float,
                     session: requests.Session | None = None) -> str:
    """The org's timezone name. RetryableCRMError for no answer, a 5xx or the daily limit
    reached (403 REQUEST_LIMIT_EXCEEDED); PermanentCRMError for another refusal or an
    answer without one. `instance_url` is the grant's, already checked to be https (or
    plain http on this machine: an emulator)."""
    get = session.get if session is not None else requests.get
    url = f"{instance_url.rstrip('/')}/services/data/v{API_VERSION}/query"
    try:
        response = get(url, params={"q": TIMEZONE_QUERY}, timeout=timeout,
                       allow_redirects=False,
                       headers={"Authorization": f"Bearer {access_token}",
                                "Accept": "application/json"})
    except requests.RequestException as exc:
        raise RetryableCRMError(f"Salesforce's Organization query did not answer ({exc})"
                                ) from exc
    status, body = response.status_code, _json(response)
    code = _error_code(body)
    if status >= 500 or code == "REQUEST_LIMIT_EXCEEDED":
        raise RetryableCRMError(f"Salesforce's Organization query answered {status} {code}")
    if status != 200 or not isinstance(body, dict):
        raise PermanentCRMError(f"Salesforce's Organization query answered {status} "
                                f"{code or ''}".rstrip())
    records = body.get("records")
    name = records[0].get("TimeZoneSidKey") if isinstance(records, list) and records \
        and isinstance(records[0], dict) else None
    if not isinstance(name, str) or not name.strip():
        raise PermanentCRMError("Salesforce's Organization has no TimeZoneSidKey")
    return name.strip()


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error_code(body: Any) -> str | None:
    """Salesforce's errors are a JSON list: [{"errorCode": ..., "message": ...}]."""
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("errorCode") or "") or None
    return None
