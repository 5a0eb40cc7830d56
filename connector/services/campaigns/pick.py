"""The A/B winner of a campaign whose samples leave a rest: once every sample recipient
has been handed to the send path and `pick_after` has passed since the last of them, the
variant with the best rate of unique HUMAN clicks (or opens) per email sent wins and the
rest get it. Machine engagement (a link scanner, a privacy proxy's prefetch:
engagement_events.machine) never counts. Equal rates: the variant written first wins.
Why it won is kept on the campaign (winner_reason), with every variant's counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, func, select, update

from connector.db import rowcount
from connector.models import CampaignRecipient, CampaignRun, EngagementEvent, Message
from connector.services.campaigns.start import set_due_times

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from connector.services.campaigns.plan import SendPlan

TIE_RULE = "the best rate of unique human {by} per email sent; equal rates: the variant " \
           "written first"


@dataclass(frozen=True)
class Stage:
    """Which recipients an advance may claim: only the samples (the pick is ahead), or
    everyone, the rest getting `winner` (None: no test with a rest)."""

    samples_only: bool
    winner: str | None = None
    pick_at: datetime | None = None  # when the pick is due, while samples_only


def current_stage(session: Session, run: CampaignRun, plan: SendPlan, now: datetime
                  ) -> Stage:
    """Where the campaign's test stands, picking the winner when its time has come."""
    pick_after = plan.pick_after
    if pick_after is None:
        return Stage(False)
    if run.winner is not None:
        return Stage(False, run.winner)
    samples_waiting = session.scalar(select(exists().where(
        CampaignRecipient.campaign_id == run.id, CampaignRecipient.state == "waiting",
        CampaignRecipient.variant.is_not(None))))
    if samples_waiting:
        return Stage(True)
    started = run.started_at or now
    last = session.scalar(select(func.max(Message.created_at))
                          .where(Message.campaign_id == run.id))
    pick_at = max(last or started, started) + pick_after  # no sample email: from the start
    if now < pick_at:
        return Stage(True, pick_at=pick_at)
    return Stage(False, pick_winner(session, run, plan, now))


def pick_winner(session: Session, run: CampaignRun, plan: SendPlan, now: datetime) -> str:
    """Record the winner (one conditional UPDATE: two advances at once pick it once) and,
    for a local_time campaign, give the rest their next wall time after the pick."""
    counts = variant_counts(session, run.id, plan.pick_by, plan.variant_keys)
    winner = max(plan.variant_keys, key=lambda key: (counts[key]["rate"],
                                                     -plan.variant_keys.index(key)))
    reason = {"by": plan.pick_by, "rule": TIE_RULE.format(by=plan.pick_by),
              "variants": counts, "summary": _summary(winner, counts, plan.pick_by)}
    won = rowcount(session.execute(
        update(CampaignRun).where(CampaignRun.id == run.id, CampaignRun.winner.is_(None))
        .values(winner=winner, winner_reason=reason, picked_at=now)))
    if not won:
        session.refresh(run)
        return str(run.winner)
    local_time = plan.local_time
    if local_time is not None:
        set_due_times(session, run.id, local_time, now, rest_only=True)
    return winner


def variant_counts(session: Session, campaign_id: int, by: str, keys: list[str]
                   ) -> dict[str, dict[str, Any]]:
    """Per sample variant (`keys`): emails sent, those with a human `by` (clicks|opens),
    the rate of one to the other."""
    recipient = and_(Message.campaign_id == CampaignRecipient.campaign_id,
                     Message.contact_id == CampaignRecipient.contact_id)
    sampled = (CampaignRecipient.campaign_id == campaign_id,
               CampaignRecipient.variant.is_not(None), Message.status == "sent")
    sent = dict(session.execute(
        select(CampaignRecipient.variant, func.count(Message.id)).join(Message, recipient)
        .where(*sampled).group_by(CampaignRecipient.variant)).all())
    engaged = dict(session.execute(
        select(CampaignRecipient.variant, func.count(func.distinct(Message.id)))
        .join(Message, recipient).join(EngagementEvent, EngagementEvent.message_id == Message.id)
        .where(*sampled, EngagementEvent.kind == ("click" if by == "clicks" else "open"),
               EngagementEvent.machine.is_(False))
        .group_by(CampaignRecipient.variant)).all())
    result: dict[str, dict[str, Any]] = {}
    for key in keys:
        count, hits = int(sent.get(key, 0)), int(engaged.get(key, 0))
        result[str(key)] = {"sent": count, "engaged": hits,
                            "rate": round(hits / count, 6) if count else 0.0}
    return result


def _summary(winner: str, counts: dict[str, dict[str, Any]], by: str) -> str:
    """`urgency: 12 unique human clicks of 100 sent (12.0%); friendly: 4 of 100 (4.0%)`."""
    def line(key: str, first: bool) -> str:
        c = counts[key]
        what = f" unique human {by}" if first else ""
        return f"{key}: {c['engaged']}{what} of {c['sent']} sent ({c['rate']:.1%})"

    others = [line(key, False) for key in counts if key != winner]
    return "; ".join([line(winner, True), *others])
