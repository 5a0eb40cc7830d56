"""What a template sees: the merge context of one message. Built here only, so a send and
a preview render the same thing."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any


def event_context(name: str, properties: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    """The trigger event as templates see it: its properties, its `name` and `at` (when it
    happened, so a flow can wait relative to it)."""
    return {"at": at.isoformat(), **properties, "name": name}


def message_context(
    *,
    contact: Mapping[str, Any],
    event: Mapping[str, Any] | None,
    unsubscribe_url: str,
    company_name: str,
    company_address: str,
) -> dict[str, Any]:
    """`contact` is `services.contacts.merge_context(contact)`; `event` the enrollment's
    trigger event (`event_context`), None outside a flow."""
    return {
        "contact": dict(contact),
        "event": event,
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": unsubscribe_url,
        "company": {"name": company_name, "address": company_address},
    }
