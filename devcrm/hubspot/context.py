"""The request's emulation, portal and JSON body, for the route modules."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request

from devcrm.hubspot.core import Emulation
from devcrm.hubspot.errors import ApiError, error_body
from devcrm.hubspot.state import Portal


def emulator() -> Emulation:
    emu: Emulation = current_app.extensions["hubspot_emulator"]
    return emu


def portal() -> Portal:
    """The portal the request's token reaches (set by the app's guard)."""
    return emulator().portal(g.hub_id)


def body() -> Any:
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, error_body("Invalid input JSON on line 1, column 1: "
                                       "No content to map due to end-of-input",
                                       "VALIDATION_ERROR"))
    return data
