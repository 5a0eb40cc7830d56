"""What a sync (connector.services.sync) writes: inbox events and the account's watermark,
one transaction per page read, the inbox woken after the commit.

The dedup keys name the record's change or deletion time: a rerun stores nothing twice,
and a record changed (or restored and deleted) again is new.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy.orm import Session

from adapters.inbound import CONTACT_DELETED
from adapters.port import CrmContact, DeletedRecord
from connector.db import after_commit
from connector.models import Account
from connector.services.crm_events import record_data
from connector.services.inbox import record_inbox_event

if TYPE_CHECKING:
    from connector.runtime import Runtime


class SyncEvent(NamedTuple):
    """One inbox event a sync stores."""

    kind: str
    dedup_key: str
    payload: dict[str, Any]
    occurred_at: datetime | None


def record_events(kind: str, prefix: str, records: Sequence[CrmContact]) -> list[SyncEvent]:
    """Records read, the record inline (what the handler applies)."""
    return [SyncEvent(kind, f"{prefix}:{r.crm_id}:{_ms(r.updated_at)}", record_data(r),
                      r.updated_at) for r in records]


def deletion_events(records: Sequence[DeletedRecord]) -> list[SyncEvent]:
    """Deletions read back from the CRM's log. Never a privacy deletion: only a CRM that
    pushes its deletions says that (HubSpot's contact.privacyDeletion)."""
    return [SyncEvent(CONTACT_DELETED, f"delete:{d.crm_id}:{_ms(d.deleted_at)}",
                      {"crm_id": d.crm_id, "privacy": False}, d.deleted_at) for d in records]


def store_page(rt: Runtime, account_id: int, source: str, events: Sequence[SyncEvent], *,
               watermark: datetime | None = None) -> tuple[int, datetime | None]:
    """One page's events and the watermark it reaches, in one transaction: how many
    events were new, and the watermark after it (None: not moved)."""
    now = rt.clock.now()
    stored = 0
    with rt.db.session() as session:
        for event in events:
            _, created = record_inbox_event(
                session, account_id=account_id, source=source, dedup_key=event.dedup_key,
                kind=event.kind, payload=event.payload, occurred_at=event.occurred_at or now,
                now=now)
            stored += created
        moved = _move_watermark(session, account_id, watermark) if watermark else None
        if stored:
            after_commit(session, rt.work.wake_inbox)
    return stored, moved


def advance_watermark(rt: Runtime, account_id: int, watermark: datetime) -> datetime | None:
    """The watermark at the end of a run (forward only); what it is now."""
    with rt.db.session() as session:
        return _move_watermark(session, account_id, watermark)


def _move_watermark(session: Session, account_id: int, watermark: datetime
                    ) -> datetime | None:
    """Forward only: a sync that read less recent changes never moves it back."""
    account = session.get(Account, account_id, with_for_update=True)
    if account is None:
        return None
    if account.crm_synced_through is None or account.crm_synced_through < watermark:
        account.crm_synced_through = watermark
    return account.crm_synced_through


def _ms(moment: datetime | None) -> int:
    return int(moment.timestamp() * 1000) if moment is not None else 0
