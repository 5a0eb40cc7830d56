"""The request's emulation, org and JSON body, for the route modules."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request

from devcrm.salesforce.core import Emulation
from devcrm.salesforce.errors import SfError
from devcrm.salesforce.state import Org


def emulator() -> Emulation:
    emu: Emulation = current_app.extensions["salesforce_emulator"]
    return emu


def org() -> Org:
    """The org the request's session id reaches (set by the app's guard)."""
    return emulator().org(g.org_id)


def body() -> Any:
    data = request.get_json(silent=True)
    if data is None:
        raise SfError(400, "JSON_PARSER_ERROR", "The HTTP entity body is required, but this "
                      "request has no entity body.")
    return data


def bearer_org() -> str | None:
    """The org whose live access token the Authorization header carries."""
    header = request.headers.get("Authorization", "")
    token = header.split(" ", 1)[1].strip() if " " in header else ""
    return emulator().tokens.lookup(token) if token else None
