"""What the adapters' plain HTTP calls (token exchanges, account details) share."""

from __future__ import annotations

from typing import Any

import requests


def json_object(response: requests.Response) -> dict[str, Any]:
    """The response's JSON object; {} for a body that is not JSON or not an object."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
