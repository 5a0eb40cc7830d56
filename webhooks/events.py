"""POST /v1/events: behaviour events (purchase, cart, page view) from the customer's own
systems. Verify the key -> parse at the edge -> persist in the inbox -> enqueue -> 202."""

from __future__ import annotations

import json
import re
import uuid
from typing import Annotated, Any

from flask import Blueprint, Response, jsonify
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from connector.db import after_commit
from connector.engine.common import EVENT_NAME_MAX, EVENT_NAME_PATTERN
from connector.services.inbox import record_inbox_event
from webhooks.http import authenticated_account_id, error, read_json_body, runtime

bp = Blueprint("events", __name__)

EMAIL = re.compile(r"^[^@\s<>,;\"]{1,64}@[^@\s<>,;\"]{1,255}\.[^@\s<>,;\"]{1,63}$")
# The pattern flows, segments and conditions are checked against too (engine.common.names).
EVENT_NAME = EVENT_NAME_PATTERN
MAX_PROPERTIES = 200
LIST_KEY = r"^[a-z0-9][a-z0-9_-]{0,99}$"
# Value limits (docs/events.md). A contact property is a CRM field: one scalar, at most a
# few KB of text (a 900 KB first name once became a 900 KB merge tag). An event's
# properties may hold objects and lists (items[], product), bounded as a whole: a cart of
# a hundred lines fits; a catalogue does not (every enrollment keeps its trigger event).
MAX_PROPERTY_NAME = 100
MAX_CONTACT_VALUE_CHARS = 4096
MAX_EVENT_PROPERTIES_BYTES = 64 * 1024


def _crm_scalar(value: Any) -> Any:
    if isinstance(value, dict | list):
        kind = "an object" if isinstance(value, dict) else "a list"
        raise ValueError(
            f"a contact property is a string, number, boolean or null, not {kind} "
            "(CRM properties are scalars; put structured data in the event's properties)"
        )
    if isinstance(value, str) and len(value) > MAX_CONTACT_VALUE_CHARS:
        raise ValueError(
            f"longer than {MAX_CONTACT_VALUE_CHARS} characters ({len(value)})"
        )
    return value


PropertyName = Annotated[str, Field(min_length=1, max_length=MAX_PROPERTY_NAME)]
ContactValue = Annotated[Any, AfterValidator(_crm_scalar)]


def _email(value: str) -> str:
    if not EMAIL.match(value.strip()):
        raise ValueError("not an email address")
    return value.strip().lower()


# An address as contacts are keyed by it (trimmed, lowercased); the pattern is in the
# OpenAPI document too, so generated requests (schemathesis) can be valid ones.
Email = Annotated[
    str,
    Field(max_length=320, json_schema_extra={"pattern": EMAIL.pattern}),
    AfterValidator(_email),
]


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email | None = None
    crm_id: str | None = Field(None, min_length=1, max_length=64)
    timezone: str | None = Field(None, max_length=64)
    properties: dict[PropertyName, ContactValue] = Field(
        default_factory=dict, max_length=MAX_PROPERTIES
    )
    # Static lists the contact joins (segments and conditions test them with in_list).
    lists: list[Annotated[str, Field(pattern=LIST_KEY)]] = Field(default_factory=list,
                                                                 max_length=50)

    @model_validator(mode="after")
    def _identified(self) -> ContactIn:
        if not self.email and not self.crm_id:
            raise ValueError("give contact.email or contact.crm_id")
        return self


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact: ContactIn
    event: str = Field(max_length=EVENT_NAME_MAX, pattern=EVENT_NAME)
    properties: dict[PropertyName, Any] = Field(default_factory=dict, max_length=MAX_PROPERTIES)
    occurred_at: AwareDatetime | None = None
    idempotency_key: str | None = Field(None, min_length=1, max_length=200)

    @field_validator("properties")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
        if size > MAX_EVENT_PROPERTIES_BYTES:
            raise ValueError(
                f"{size} bytes as JSON, more than the {MAX_EVENT_PROPERTIES_BYTES} allowed"
            )
        return value


@bp.post("/v1/events")
def post_event() -> Any:
    account_id = authenticated_account_id()
    if account_id is None:
        return error(401, "missing or unknown API key")
    body = read_json_body()  # 400 / 413 with a message for a body that is not strict JSON
    try:
        event = EventIn.model_validate(body)
    except ValidationError as exc:
        return error(422, "invalid event", details=_details(exc))
    rt = runtime()
    now = rt.clock.now()
    with rt.db.session() as session:
        # Without an idempotency key every post is a new event (two equal purchases are two).
        _, created = record_inbox_event(
            session,
            account_id=account_id,
            source="api",
            dedup_key=event.idempotency_key or f"auto:{uuid.uuid4().hex}",
            kind=event.event,
            payload=event.model_dump(mode="json", exclude_none=True),
            occurred_at=event.occurred_at or now,
            now=now,
        )
        if created:
            after_commit(session, rt.work.wake_inbox)
    return _accepted(created)


def _accepted(created: bool) -> tuple[Response, int]:
    return jsonify({"status": "accepted", "duplicate": not created}), 202


def _details(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"]}
        for e in exc.errors()
    ]
