"""The account's frequency cap for a campaign's recipients: at most `limit` marketing
emails per contact in any rolling `window` (`accounts set --frequency-cap N/W`), the cap
flows wait for. A campaign does not wait: a recipient at the cap is skipped ("frequency
cap"), unless the campaign says `respect_frequency_cap: false`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, or_, select

from connector.models import Message

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# A recipient's skip_reason: the words of a flow's sleep for the cap (engine/run/decisions).
SKIPPED_AT_CAP = "frequency cap"
# The ledger rows that count as sends, as in the flows' facts (services/facts.py).
COUNTED = ("pending", "sending", "sent", "uncertain")


@dataclass(frozen=True)
class FrequencyCap:
    limit: int
    window: timedelta
    transactional_flows: frozenset[str] = frozenset()  # their emails never count

    def reached(self, session: Session, contact_ids: list[int], now: datetime) -> set[int]:
        """The contacts with `limit` marketing emails or more in (now - window, now]: one
        more would pass the cap. Campaign emails count, transactional flows' do not."""
        query = select(Message.contact_id).where(
            Message.contact_id.in_(contact_ids), Message.status.in_(COUNTED),
            Message.created_at > now - self.window)
        if self.transactional_flows:
            query = query.where(or_(Message.flow_key.is_(None),
                                    Message.flow_key.not_in(sorted(self.transactional_flows))))
        return set(session.scalars(
            query.group_by(Message.contact_id).having(func.count() >= self.limit)))
