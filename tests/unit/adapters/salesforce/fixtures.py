"""Salesforce webhook fixtures by name (tests/fixtures/webhooks/salesforce/)."""

from __future__ import annotations

import re
from pathlib import Path

FOLDER = Path(__file__).resolve().parents[3] / "fixtures" / "webhooks" / "salesforce"
ORG_ID = "00D5g000004ABCDEA4"  # the fixtures' OrganizationId (18 characters)


def fixture(name: str) -> bytes:
    return (FOLDER / f"{name}.xml").read_bytes()


def fixture_paths() -> list[Path]:
    return sorted(FOLDER.glob("*.xml"))


def many_notifications(count: int, *, org_id: str = ORG_ID) -> bytes:
    """The Contact message with `count` notifications, each its own Id and record."""
    text = fixture("outbound_contact").decode()
    head, rest = text.split("<Notification>", 1)
    one, tail = rest.split("</Notification>", 1)
    items = []
    for i in range(count):
        item = one.replace("04l5g00000AbCdEAAV", f"04l5g{i:010d}")
        item = item.replace("0035g00000XyZ12AAF", f"0035g{i:010d}")
        item = item.replace("jo.doe@example.com", f"jo{i}@example.com")
        items.append(f"<Notification>{item}</Notification>")
    body = head + "".join(items) + tail
    return re.sub("00D5g000004ABCDEA4", org_id, body).encode()
