"""The HubSpot adapter: every HubSpot fact (paths, property names, batch sizes, error
codes) lives in this package, in layers: auth -> client -> per-object mappings.

The CRM port for one account is `adapter.HubSpotCRM` (configured by `client.HubSpotConfig`).
This face holds only the few vendor facts the core needs by name (the opt-out property,
what a portal id looks like) and imports nothing: every CLI command reads them, and the
HubSpot SDK takes a third of a second to import.
"""

from __future__ import annotations

import re

# HubSpot's own "unsubscribed from all email" flag, honoured before every send.
OPT_OUT_PROPERTY = "hs_email_optout"

_PORTAL_ID = re.compile(r"^[0-9]{1,20}$")


def valid_portal_id(value: str) -> bool:
    """A HubSpot portal (hub) id: digits only."""
    return bool(_PORTAL_ID.match(value))


__all__ = ["OPT_OUT_PROPERTY", "valid_portal_id"]
