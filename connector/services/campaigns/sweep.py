"""The scheduler's part: every sending campaign whose wait is over (its throttle's next
window, a local_time recipient's due time, an A/B test's pick: `next_advance_at`) or that
waits for nothing gets an advance. Idempotent and coalesced (one queued advance per
campaign), so it also brings back the advances a redeploy or a Redis flush lost."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import or_, select

from connector.models import CampaignRun

if TYPE_CHECKING:
    from connector.runtime import Runtime


def wake_sending_campaigns(rt: Runtime, now: datetime) -> int:
    """Queue an advance for each due sending campaign; returns how many were queued."""
    with rt.db.session() as session:
        due = session.scalars(select(CampaignRun.id).where(
            CampaignRun.state == "sending",
            or_(CampaignRun.next_advance_at.is_(None), CampaignRun.next_advance_at <= now),
        )).all()
    return sum(bool(rt.work.advance_campaign(campaign_id)) for campaign_id in due)
