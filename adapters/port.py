"""The CRM port: what the core asks of any CRM. Vendor SDKs live only behind it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

ActivityKind = Literal["email_sent", "email_opened", "email_clicked", "unsubscribed", "bounced"]


@dataclass(frozen=True)
class EmailActivity:
    """One engagement fact to show on the contact's CRM timeline."""

    writeback_id: int
    kind: ActivityKind
    contact_crm_id: str | None
    email: str
    subject: str
    occurred_at: datetime
    url: str | None = None
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PropertyUpdate:
    """Set properties on the contact (a flow's update-property step)."""

    writeback_id: int
    contact_crm_id: str | None
    email: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class Task:
    """A to-do for the contact's owner ("hot lead clicked pricing")."""

    writeback_id: int
    contact_crm_id: str | None
    email: str
    subject: str
    body: str
    due_at: datetime | None


@dataclass(frozen=True)
class WriteResult:
    writeback_id: int
    ok: bool
    retryable: bool = False
    error: str | None = None


class CRMAdapter(Protocol):
    provider: str

    # Each call writes a batch (the adapter knows its CRM's batch size) and returns one
    # result per input, in order; a retryable failure of the whole call raises
    # adapters.errors.RetryableCRMError.
    def write_activities(self, *, activities: Sequence[EmailActivity]) -> list[WriteResult]: ...

    def update_properties(self, *, updates: Sequence[PropertyUpdate]) -> list[WriteResult]: ...

    def create_tasks(self, *, tasks: Sequence[Task]) -> list[WriteResult]: ...
