"""The HubSpot webhook fixtures (tests/fixtures/webhooks/hubspot/), by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.paths import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "webhooks" / "hubspot"
PORTAL = "62515"


def fixture_paths() -> list[Path]:
    return sorted(FIXTURES.glob("*.json"))


def fixture(name: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads((FIXTURES / f"{name}.json").read_text())
    return events


def type_named_by(path: Path) -> str:
    """`contact_propertyChange_redacted.json` -> `contact.propertyChange`."""
    obj, change, *_variant = path.stem.split("_")
    return f"{obj}.{change}"
