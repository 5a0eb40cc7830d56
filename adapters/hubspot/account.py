"""The installed portal's own settings, read once at install: its timezone, from the
account-information API (`GET /account-info/v3/details` -> `timeZone`, an IANA name such
as "US/Eastern"; needs only the `oauth` scope). Plain HTTP with the fresh access token:
one call, before the account has a rate-limit slot or a client of its own."""

from __future__ import annotations

import requests

from adapters.errors import PermanentCRMError, RetryableCRMError
from adapters.http import json_object

DETAILS_PATH = "/account-info/v3/details"


def account_timezone(api_base: str, access_token: str, *, timeout: float,
                     session: requests.Session | None = None) -> str:
    """The portal's timezone name as HubSpot gives it. RetryableCRMError for no answer, a
    429 or a 5xx; PermanentCRMError for another status or an answer without one."""
    get = session.get if session is not None else requests.get
    try:
        response = get(api_base.rstrip("/") + DETAILS_PATH, timeout=timeout,
                       headers={"Authorization": f"Bearer {access_token}",
                                "Accept": "application/json"})
    except requests.RequestException as exc:
        raise RetryableCRMError(f"HubSpot's account details did not answer ({exc})") from exc
    status = response.status_code
    if status == 429 or status >= 500:
        raise RetryableCRMError(f"HubSpot's account details answered {status}")
    if status != 200:
        raise PermanentCRMError(f"HubSpot's account details answered {status}: "
                                f"{_message(response)}")
    name = json_object(response).get("timeZone")
    if not isinstance(name, str) or not name.strip():
        raise PermanentCRMError("HubSpot's account details have no timeZone")
    return name.strip()


def _message(response: requests.Response) -> str:
    return str(json_object(response).get("message") or response.reason or "no message")[:200]
