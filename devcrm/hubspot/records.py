"""Pure helpers for HubSpot records: timestamps, values as strings, the shape answered."""

from __future__ import annotations

import datetime as dt
from typing import Any

CONTACT_DEFAULT_PROPERTIES = ("firstname", "lastname", "email", "createdate",
                              "lastmodifieddate", "hs_object_id")
ENGAGEMENT_DEFAULT_PROPERTIES = ("hs_createdate", "hs_lastmodifieddate", "hs_object_id")


def iso(ts: float) -> str:
    """HubSpot's timestamp format: UTC, milliseconds, a Z suffix."""
    moment = dt.datetime.fromtimestamp(ts, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def to_ms(value: str) -> float | None:
    """Epoch milliseconds of a value given as epoch ms or an ISO date(-time), else None."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp() * 1000


def as_string(value: Any) -> str:
    """HubSpot stores and answers every property value as a string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def shape(record: dict[str, Any], properties: list[str] | None, *, known: set[str] | dict[str, Any],
          defaults: tuple[str, ...] = CONTACT_DEFAULT_PROPERTIES) -> dict[str, Any]:
    """A record as the API answers it: the asked properties (or the defaults) that exist in
    the portal, null when unset; the last three defaults (create/modify date, id) always."""
    values = record["properties"]
    wanted = list(properties) if properties else list(defaults)
    wanted += [name for name in defaults[-3:] if name not in wanted]
    props = {name: values.get(name) for name in wanted if name in known or name in values}
    return {"id": record["id"], "properties": props, "createdAt": record["createdAt"],
            "updatedAt": record["updatedAt"], "archived": record["archived"]}


def split_names(raw: str | None) -> list[str]:
    return [name.strip() for name in (raw or "").split(",") if name.strip()]
