"""A requests.Session for simple-salesforce against a plain-HTTP Salesforce (the emulator):
simple-salesforce always builds https:// URLs, so the session's adapter sends them over
http:// instead."""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter


class _PlainHttpAdapter(HTTPAdapter):
    """Sends an https:// request to the same host and port over plain HTTP."""

    def send(self, request: requests.PreparedRequest, *args: Any,
             **kwargs: Any) -> requests.Response:
        if request.url and request.url.startswith("https://"):
            request.url = "http://" + request.url[len("https://"):]
        return super().send(request, *args, **kwargs)


def plain_http_session() -> requests.Session:
    session = requests.Session()
    session.mount("https://", _PlainHttpAdapter())
    return session
