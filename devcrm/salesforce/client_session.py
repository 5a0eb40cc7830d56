"""A requests.Session for simple-salesforce against a plain-HTTP Salesforce (the emulator):
simple-salesforce always builds https:// URLs, so the session's adapter sends them over
http:// instead (the adapter's own transport, adapters/salesforce/transport.py)."""

from __future__ import annotations

import requests

from adapters.salesforce.transport import plain_http


def plain_http_session() -> requests.Session:
    return plain_http(requests.Session())
