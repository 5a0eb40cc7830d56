"""A local emulator of the HubSpot API subset the connector uses: OAuth and private-app
tokens, contacts, email/note/task engagements, properties, communication preferences,
rate limits, injected faults and signed webhooks."""

from __future__ import annotations

from devcrm.hubspot.server import HubSpotEmulator
from devcrm.hubspot.state import Portal

__all__ = ["HubSpotEmulator", "Portal"]
