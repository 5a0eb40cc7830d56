"""A campaign's recipients one row each, for `connector campaigns report --csv`: read in
keyset chunks of the audience's positions (two queries a chunk), so memory stays flat
whatever the audience's size."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, select

from connector.models import CampaignRecipient, Contact, EngagementEvent, Message
from connector.services.campaigns.report import NO_VARIANT

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# Recipients per chunk.
CSV_CHUNK = 1000

CSV_COLUMNS = ("email", "variant", "state", "sent_at", "first_open", "first_click",
               "clicks", "unsubscribed", "machine_opens", "machine_clicks", "machine_reasons")


def recipient_rows(session: Session, campaign_id: int, *, chunk: int = CSV_CHUNK
                   ) -> Iterator[dict[str, Any]]:
    """One row per recipient in audience order (`CSV_COLUMNS`), read in keyset chunks of
    positions: memory stays flat whatever the audience's size. The state is the ledger's
    status once queued, else waiting or `skipped: <reason>`; times and counts are people's,
    the machine columns a machine's."""
    after = -1
    while True:
        recipients = session.execute(
            select(CampaignRecipient.position, Contact.email, CampaignRecipient.variant,
                   CampaignRecipient.state, CampaignRecipient.skip_reason, Message.id,
                   Message.status, Message.sent_at)
            .join(Contact, Contact.id == CampaignRecipient.contact_id)
            .outerjoin(Message, and_(Message.campaign_id == CampaignRecipient.campaign_id,
                                     Message.contact_id == CampaignRecipient.contact_id))
            .where(CampaignRecipient.campaign_id == campaign_id,
                   CampaignRecipient.position > after)
            .order_by(CampaignRecipient.position).limit(chunk)).all()
        if not recipients:
            return
        events = _events_of(session, [r[5] for r in recipients if r[5] is not None])
        for _, email, variant, state, reason, message_id, status, sent_at in recipients:
            seen = events.get(message_id, {})
            yield {
                "email": email or "", "variant": variant or NO_VARIANT,
                "state": status or (f"skipped: {reason}" if state == "skipped" else state),
                "sent_at": sent_at, "first_open": seen.get("first_open"),
                "first_click": seen.get("first_click"), "clicks": seen.get("clicks", 0),
                "unsubscribed": bool(seen.get("unsubscribed")),
                "machine_opens": seen.get("machine_opens", 0),
                "machine_clicks": seen.get("machine_clicks", 0),
                "machine_reasons": ";".join(sorted(seen.get("reasons", ()))),
            }
        after = recipients[-1][0]


def _events_of(session: Session, message_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per message of one chunk: people's first open and click and clicks, the machine's
    opens, clicks and reasons, whether it was unsubscribed from."""
    found: dict[int, dict[str, Any]] = {}
    if not message_ids:
        return found
    for message_id, kind, machine, reason, first, count in session.execute(
            select(EngagementEvent.message_id, EngagementEvent.kind, EngagementEvent.machine,
                   EngagementEvent.machine_reason, func.min(EngagementEvent.occurred_at),
                   func.count())
            .where(EngagementEvent.message_id.in_(message_ids))
            .group_by(EngagementEvent.message_id, EngagementEvent.kind,
                      EngagementEvent.machine, EngagementEvent.machine_reason)):
        seen = found.setdefault(message_id, {"reasons": set()})
        if kind == "unsubscribe":
            seen["unsubscribed"] = True
        elif machine:
            seen[f"machine_{kind}s"] = seen.get(f"machine_{kind}s", 0) + count
            seen["reasons"].add(reason or "unknown")
        else:
            earliest = seen.get(f"first_{kind}")
            seen[f"first_{kind}"] = first if earliest is None else min(earliest, first)
            if kind == "click":
                seen["clicks"] = seen.get("clicks", 0) + count
    return found
