"""Where campaigns stand: counted from the recipients and the ledger (no counters to keep
in step), for `connector campaigns status` and `send --wait`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from connector.models import CampaignRecipient, CampaignRun, Message

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy.orm import Session

    from connector.engine.campaigns import Campaign

# The rate is what was sent in this last stretch of time.
RATE_WINDOW = timedelta(minutes=1)
# A row suppressed by the send path's own check (an unsubscribe between queue and send).
SUPPRESSED_AT_SEND = "suppressed_at_send"


@dataclass(frozen=True)
class CampaignStatus:
    key: str
    name: str
    state: str  # draft (in the workspace, never started) or the campaigns row's
    audience: int | None = None
    sent: int = 0
    failed: int = 0
    uncertain: int = 0
    in_flight: int = 0  # queued messages not sent yet (pending, sending, an SMTP 4xx)
    skipped: dict[str, int] = field(default_factory=dict)
    send_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    rate_per_minute: float = 0.0
    # An A/B test with a rest, once picked: the winner and why (pick.py's reason).
    winner: str | None = None
    winner_reason: dict[str, Any] | None = None

    @property
    def remaining(self) -> int:
        """Recipients not sent, skipped, failed or uncertain yet."""
        settled = self.sent + self.failed + self.uncertain + sum(self.skipped.values())
        return max((self.audience or 0) - settled, 0)

    @property
    def seconds_left(self) -> float | None:
        """At the current rate; None when nothing is moving."""
        if not self.remaining:
            return 0.0
        return self.remaining / self.rate_per_minute * 60 if self.rate_per_minute else None

    def as_json(self) -> dict[str, Any]:
        def iso(at: datetime | None) -> str | None:
            return at.isoformat() if at else None

        return {
            "key": self.key, "name": self.name, "state": self.state,
            "audience": self.audience, "sent": self.sent, "skipped": dict(self.skipped),
            "failed": self.failed, "uncertain": self.uncertain, "in_flight": self.in_flight,
            "send_at": iso(self.send_at), "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "rate_per_minute": round(self.rate_per_minute, 1),
            "seconds_left": None if self.seconds_left is None else round(self.seconds_left),
            "winner": self.winner, "winner_reason": self.winner_reason,
        }


def campaign_status(session: Session, account_id: int, key: str, *,
                    defined: Mapping[str, Campaign], now: datetime) -> CampaignStatus | None:
    """One campaign, started or only `defined` (the live workspace's); None when neither."""
    run = session.scalar(select(CampaignRun).where(CampaignRun.account_id == account_id,
                                                   CampaignRun.key == key))
    if run is not None:
        return _status(session, run, now)
    campaign = defined.get(key)
    return None if campaign is None else CampaignStatus(key, campaign.name, "draft")


def campaign_statuses(session: Session, account_id: int, *,
                      defined: Mapping[str, Campaign], now: datetime) -> list[CampaignStatus]:
    """Every campaign of the account, by key: the started ones and the others `defined`
    (state draft)."""
    runs = session.scalars(select(CampaignRun).where(CampaignRun.account_id == account_id))
    statuses = {run.key: _status(session, run, now) for run in runs}
    for key, campaign in defined.items():
        statuses.setdefault(key, CampaignStatus(key, campaign.name, "draft"))
    return [statuses[key] for key in sorted(statuses)]


def _status(session: Session, run: CampaignRun, now: datetime) -> CampaignStatus:
    skipped: dict[str, int] = {reason or "unknown": count for reason, count in session.execute(
        select(CampaignRecipient.skip_reason, func.count())
        .where(CampaignRecipient.campaign_id == run.id, CampaignRecipient.state == "skipped")
        .group_by(CampaignRecipient.skip_reason))}
    by_status: dict[str, int] = {status: count for status, count in session.execute(
        select(Message.status, func.count()).where(Message.campaign_id == run.id)
        .group_by(Message.status))}
    if by_status.get("suppressed"):
        skipped[SUPPRESSED_AT_SEND] = skipped.get(SUPPRESSED_AT_SEND, 0) + by_status["suppressed"]
    recent = session.scalar(select(func.count()).where(
        Message.campaign_id == run.id, Message.status == "sent",
        Message.sent_at > now - RATE_WINDOW)) or 0
    return CampaignStatus(
        key=run.key, name=run.name, state=run.state, audience=run.audience,
        sent=by_status.get("sent", 0),
        failed=by_status.get("failed", 0) + by_status.get("bounced", 0),
        uncertain=by_status.get("uncertain", 0),
        in_flight=by_status.get("pending", 0) + by_status.get("sending", 0),
        skipped=skipped, send_at=run.send_at, started_at=run.started_at,
        finished_at=run.finished_at,
        rate_per_minute=recent / (RATE_WINDOW.total_seconds() / 60),
        winner=run.winner, winner_reason=run.winner_reason,
    )
