"""One advance of a sending campaign: a chunk of waiting recipients, as many as the
throttles allow, becomes Message rows (committed with the recipients marked queued, before
any transport call), then exactly those rows go through the send path over one connection.

Advances of one campaign may run on several workers at once: each claims its recipients
with one conditional UPDATE (`state = 'waiting'`, the next positions; FOR UPDATE SKIP
LOCKED on PostgreSQL, SQLite's single writer serialises them), and the messages'
unique (campaign_id, contact_id) is the last word. A worker killed mid-chunk leaves its
rows `sending`: the scheduler marks them uncertain, never resends them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import exists, func, insert, select, update

from connector.db import rowcount
from connector.models import CampaignRecipient, CampaignRun, Contact, Message
from connector.services.campaigns.cap import SKIPPED_AT_CAP, FrequencyCap
from connector.services.campaigns.pick import Stage, current_stage
from connector.services.campaigns.plan import SendPlan
from connector.services.campaigns.start import freeze_audience
from connector.services.campaigns.throttle import give_back, take_tokens
from connector.services.contacts import opt_out_reason, suppressed_emails
from connector.services.sending import deliver_messages

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy import ColumnElement
    from sqlalchemy.orm import Session

    from connector.runtime import Runtime

# Recipients per advance: a flow email queued behind an advance waits for one chunk (at
# about 1.5 ms an email, a third of a second). The same on SQLite: its transactions are a
# few statements whatever the chunk's size, and 50 a chunk sent 40% fewer emails a second
# (bench/campaign_send.py, 5,000 recipients: 720 vs 1,228 msgs/s).
CHUNK = 200


@dataclass(frozen=True)
class AdvanceReport:
    """What one advance did: messages handed to the send path, recipients skipped, and
    whether the campaign is done, waits for its throttle, waits for a recipient's wall
    time or the A/B pick (`waiting`), or is not sending."""

    queued: int = 0
    skipped: int = 0
    outcome: str = "idle"  # idle | advanced | throttled | waiting | sent


def advance_campaign(rt: Runtime, campaign_id: int) -> AdvanceReport:
    """Send the next chunk of a sending campaign, queue the next advance, or finish it."""
    rt.work.campaign_advance_started(campaign_id)  # before looking: see Queues.wake
    now = rt.clock.now()
    with rt.db.session() as session:
        run = session.get(CampaignRun, campaign_id)
        if run is None or run.state != "sending":
            return AdvanceReport()
        if run.next_advance_at is not None and run.next_advance_at > now:
            return AdvanceReport(outcome="throttled")  # the scheduler wakes it then
        plan, frozen = SendPlan(run.key, run.plan), run.audience is not None
    if not frozen and freeze_audience(rt, campaign_id) is None:
        return AdvanceReport()
    with rt.db.session() as session:
        run = session.get(CampaignRun, campaign_id)
        if run is None:
            return AdvanceReport()
        stage = current_stage(session, run, plan, now)
        cap = _frequency_cap(rt, session, run.account_id, plan)
    claimable = _claimable(campaign_id, plan, stage, now)
    want = CHUNK
    grant = take_tokens(rt.redis, campaign_id, want, now, throttle=plan.throttle,
                        send_rate=rt.settings.campaign_send_rate)
    with rt.db.session() as session:
        claimed = _claim(session, claimable, grant.tokens) if grant.tokens else {}
        message_ids, skipped = _queue_messages(session, campaign_id, plan, stage, claimed,
                                               cap, now)
        more_now = bool(session.scalar(select(exists().where(*claimable))))
        if not more_now and stage.samples_only and stage.pick_at is None:
            # This chunk may have been the samples' last: the pick's time is known now.
            stage = current_stage(session, session.get_one(CampaignRun, campaign_id), plan, now)
        later = None if more_now else _next_wake(session, campaign_id, plan, stage)
        session.execute(update(CampaignRun).where(CampaignRun.id == campaign_id)
                        .values(next_advance_at=grant.retry_at or later))
        more = _has_waiting(session, campaign_id)
    give_back(rt.redis, grant, grant.tokens - len(claimed))
    if more_now and grant.retry_at is None:
        rt.work.advance_campaign(campaign_id)  # another worker may take the next chunk now
    deliver_messages(rt, message_ids)
    if not more and _finish(rt, campaign_id):
        return AdvanceReport(len(message_ids), skipped, "sent")
    if grant.retry_at is not None and more_now:
        return AdvanceReport(len(message_ids), skipped, "throttled")
    if not more_now and more:
        return AdvanceReport(len(message_ids), skipped, "waiting")
    return AdvanceReport(len(message_ids), skipped, "advanced")


def _claimable(campaign_id: int, plan: SendPlan, stage: Stage, now: datetime
               ) -> list[ColumnElement[bool]]:
    """Which waiting recipients an advance may claim now: the samples only while an A/B
    pick is ahead; with local_time, those whose wall time has come."""
    where = [CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.state == "waiting"]
    if stage.samples_only:
        where.append(CampaignRecipient.variant.is_not(None))
    if plan.local_time is not None:
        where.append(CampaignRecipient.due_at <= now)  # NULL (not set yet): never
    return where


def _next_wake(session: Session, campaign_id: int, plan: SendPlan, stage: Stage
               ) -> datetime | None:
    """When recipients that wait for their wall time or for the pick become claimable
    (the scheduler wakes the campaign then); None: at its next tick."""
    if stage.samples_only and stage.pick_at is not None:
        return stage.pick_at  # every sample is out: the pick is next
    if plan.local_time is None:
        return None
    where = [CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.state == "waiting"]
    if stage.samples_only:
        where.append(CampaignRecipient.variant.is_not(None))
    due: datetime | None = session.scalar(select(func.min(CampaignRecipient.due_at))
                                          .where(*where))
    return due


def _claim(session: Session, claimable: list[ColumnElement[bool]], size: int
           ) -> dict[int, str | None]:
    """Mark the next `size` claimable recipients queued; returns their contact ids and
    variants.

    Two statements, the rows locked by the first (SKIP LOCKED: another worker's claim is
    passed over, on PostgreSQL; SQLite has one writer). Not one UPDATE ... IN (SELECT ...
    LIMIT ... SKIP LOCKED): PostgreSQL may run such a subquery again per row and claim
    far more than `size`."""
    waiting = list(session.scalars(
        select(CampaignRecipient.contact_id)
        .where(*claimable)
        .order_by(CampaignRecipient.position)
        .limit(size)
        .with_for_update(skip_locked=True)
    ))
    if not waiting:
        return {}
    return dict(session.execute(
        update(CampaignRecipient)
        .where(*claimable, CampaignRecipient.contact_id.in_(waiting))
        .values(state="queued")
        .returning(CampaignRecipient.contact_id, CampaignRecipient.variant)
        .execution_options(synchronize_session=False)
    ).all())


def _frequency_cap(rt: Runtime, session: Session, account_id: int, plan: SendPlan
                   ) -> FrequencyCap | None:
    """The account's cap as it is now (None: none, or the campaign ignores it)."""
    if not plan.respect_frequency_cap:
        return None
    live = rt.workspaces.live(session, account_id)
    limit = live.profile.policy.frequency_cap
    return None if limit is None else FrequencyCap(*limit, live.workspace.transactional_keys)


def _queue_messages(session: Session, campaign_id: int, plan: SendPlan, stage: Stage,
                    claimed: dict[int, str | None], cap: FrequencyCap | None,
                    now: datetime) -> tuple[list[int], int]:
    """A pending Message per claimed recipient who can still be mailed; the others are
    skipped with the reason. Returns the new messages' ids and how many were skipped."""
    if not claimed:
        return [], 0
    # (A contact erased since the freeze took its recipient row along: ON DELETE CASCADE.)
    contacts = list(session.scalars(select(Contact).where(Contact.id.in_(claimed))))
    suppressed = suppressed_emails(session, contacts)
    capped = set() if cap is None else cap.reached(session, list(claimed), now)
    rows, skips = [], []
    for contact in sorted(contacts, key=lambda c: c.id):
        reason = _skip_reason(contact, suppressed)
        if reason is None and contact.id in capped:
            reason = SKIPPED_AT_CAP
        if reason is not None:
            skips.append({"campaign_id": campaign_id, "contact_id": contact.id,
                          "state": "skipped", "skip_reason": reason})
            continue
        # The rest of an A/B test (no variant of its own) gets the winner.
        choice = plan.choice(claimed[contact.id] or stage.winner)
        rows.append({
            "account_id": contact.account_id, "contact_id": contact.id,
            "campaign_id": campaign_id, "template": choice.template,
            "subject_override": choice.subject, "sender_override": plan.sender,
            "public_id": secrets.token_hex(16), "status": "pending",
            "to_email": contact.email or "", "links": [], "attempts": 0, "created_at": now,
        })
    if skips:
        session.execute(update(CampaignRecipient), skips)
    if not rows:
        return [], len(skips)
    ids = list(session.scalars(insert(Message).returning(Message.id), rows))
    return ids, len(skips)


def _skip_reason(contact: Contact, suppressed: dict[tuple[int, str], str]) -> str | None:
    """Why a frozen recipient is not mailed after all (it changed since the freeze)."""
    if contact.deleted_at is not None:
        return "deleted"
    if contact.merged_into_id is not None:
        return "merged"
    if opt_out_reason(contact) is not None:
        return "opted_out" if contact.email else "no_email"
    return suppressed.get((contact.account_id, contact.email or ""))  # its reason


def _has_waiting(session: Session, campaign_id: int) -> bool:
    return bool(session.scalar(select(exists().where(
        CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.state == "waiting"))))


def _finish(rt: Runtime, campaign_id: int) -> bool:
    """`sent` once no recipient waits (every one handed to the send path or skipped)."""
    now = rt.clock.now()
    with rt.db.session() as session:
        waiting = exists().where(CampaignRecipient.campaign_id == campaign_id,
                                 CampaignRecipient.state == "waiting")
        done = rowcount(session.execute(
            update(CampaignRun)
            .where(CampaignRun.id == campaign_id, CampaignRun.state == "sending", ~waiting)
            .values(state="sent", finished_at=now, next_advance_at=None)
        ))
    return bool(done)
