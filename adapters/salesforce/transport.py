"""The requests.Session simple-salesforce sends through, for an instance URL.

simple-salesforce always builds `https://{host}/...` URLs. Salesforce itself is HTTPS only;
an `http://` instance URL is a local emulator (`connector devcrm salesforce`, the demo,
tests), so for a loopback host the session sends those URLs over plain HTTP. Anywhere else
plain HTTP is refused: a session token is never sent in the clear."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from adapters.errors import PermanentCRMError

LOCAL_NAMES = ("localhost",)


class PlainHttpAdapter(HTTPAdapter):
    """Sends an https:// request to the same host and port over plain HTTP."""

    def send(self, request: requests.PreparedRequest, *args: Any,
             **kwargs: Any) -> requests.Response:
        if request.url and request.url.startswith("https://"):
            request.url = "http://" + request.url[len("https://"):]
        return super().send(request, *args, **kwargs)


def plain_http(session: requests.Session) -> requests.Session:
    session.mount("https://", PlainHttpAdapter())
    return session


def session_for(instance_url: str, factory: Callable[[], requests.Session]) -> requests.Session:
    """`factory()`'s session, made to speak plain HTTP for a loopback `http://` instance."""
    parts = urlsplit(instance_url)
    if parts.scheme == "https":
        return factory()
    if parts.scheme == "http" and is_loopback(parts.hostname or ""):
        return plain_http(factory())
    raise PermanentCRMError(f"refusing to call Salesforce at {instance_url!r}: only https, "
                            "or http on this machine (a local emulator)")


def is_loopback(host: str) -> bool:
    if host.lower() in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
