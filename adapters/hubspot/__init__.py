"""The HubSpot adapter: every HubSpot fact (paths, property names, batch sizes, error
codes) lives in this package, in layers: auth -> client -> per-object mappings.

The core uses `HubSpotCRM` (the CRM port for one account), `HubSpotConfig`, and the few
vendor facts it needs by name: the opt-out property, the properties every contact read
includes, and what a portal id looks like.
"""

from __future__ import annotations

import re

from adapters.hubspot.adapter import HubSpotCRM
from adapters.hubspot.client import HubSpotConfig
from adapters.hubspot.contacts import OPT_OUT_PROPERTY, REQUIRED_PROPERTIES

_PORTAL_ID = re.compile(r"^[0-9]{1,20}$")


def valid_portal_id(value: str) -> bool:
    """A HubSpot portal (hub) id: digits only."""
    return bool(_PORTAL_ID.match(value))


__all__ = ["OPT_OUT_PROPERTY", "REQUIRED_PROPERTIES", "HubSpotCRM", "HubSpotConfig",
           "valid_portal_id"]
