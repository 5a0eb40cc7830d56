"""The demo's HubSpot: an emulated portal (devcrm.hubspot) on the demo's virtual clock,
with the app's webhook subscriptions pointed at the demo's server, and what a sales rep
would see in it at the end (each contact's email timeline and the app's properties)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from connector.clock import Clock
from connector.hubspot_app.project import CONTACT_EVENTS, HUB_EVENTS, subscribed_properties
from connector.workspaces import Workspace
from devcrm.hubspot import HubSpotEmulator, Portal

PORTAL_ID = 1000001
TOKEN = "pat-na1-demo-private-app-token"
CLIENT_ID, CLIENT_SECRET = "demo-client-id", "demo-client-secret"
CONTACTS = Path(__file__).parent / "demo_data" / "contacts.json"


@dataclass
class DemoPortal:
    emulator: HubSpotEmulator
    portal: Portal

    @property
    def settings(self) -> dict[str, Any]:
        """What points the connector at this HubSpot."""
        return {"hubspot_api_base": self.emulator.url, "hubspot_client_id": CLIENT_ID,
                "hubspot_client_secret": CLIENT_SECRET}

    def subscribe(self, webhook_url: str, workspace: Workspace) -> int:
        """The app's subscriptions, as `connector hubspot-app build` declares them."""
        subscriptions: list[tuple[str, str | None]] = [
            *((kind, None) for kind in (*CONTACT_EVENTS, *HUB_EVENTS)),
            *(("contact.propertyChange", name) for name in subscribed_properties(workspace)),
        ]
        self.emulator.subscribe(webhook_url, subscriptions)
        return len(subscriptions)

    def create_contacts(self) -> list[str]:
        """The demo's people, created in HubSpot as a rep or a form would; those who said
        "no marketing email" are opted out through HubSpot's preferences."""
        people: list[dict[str, Any]] = json.loads(CONTACTS.read_text())
        names = []
        for person in people:
            self.portal.create_contact(person["properties"])
            if person.get("opted_out"):
                self.portal.opt_out(person["properties"]["email"])
            names.append(person["properties"].get("firstname", person["properties"]["email"]))
        return names

    def settle(self) -> None:
        if not self.emulator.drain(timeout=30):
            raise RuntimeError("the emulated HubSpot could not deliver its webhooks")


@contextmanager
def demo_portal(clock: Clock) -> Iterator[DemoPortal]:
    emulator = HubSpotEmulator(CLIENT_ID, CLIENT_SECRET, clock=lambda: clock.now().timestamp())
    with emulator:
        yield DemoPortal(emulator, emulator.add_portal(hub_id=PORTAL_ID, private_token=TOKEN))


def print_portal(console: Console, portal: Portal) -> None:
    """Each contact as a rep sees it in HubSpot: emails on the timeline by status, and the
    app's engagement properties."""
    table = Table("contact", "emails on the timeline", "opens", "clicks", "last email",
                  "active flows", "opted out", title="In HubSpot (what a rep sees)")
    for record in sorted(portal.live_contacts(), key=lambda r: r["properties"].get("email", "")):
        values = record["properties"]
        statuses = Counter(e["properties"].get("hs_email_status", "?")
                           for e in portal.timeline(record["id"]) if e["type"] == "email")
        table.add_row(
            values.get("email", record["id"]),
            ", ".join(f"{n} {s.lower()}" for s, n in sorted(statuses.items())) or "-",
            values.get("drip_opens") or "0",
            values.get("drip_clicks") or "0",
            values.get("drip_last_email_subject") or "-",
            values.get("drip_active_flows") or "-",
            "yes" if values.get("hs_email_optout") == "true" else "",
        )
    console.print(table)
