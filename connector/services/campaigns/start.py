"""Starting a campaign: the live workspace's definition becomes a campaigns row (its plan
fixed), and when sending starts the audience is resolved in SQL and frozen into
campaign_recipients, keyset chunk by keyset chunk (INSERT ... SELECT: nothing of the
audience passes through this process, memory stays flat whatever its size). An A/B test's
recipients then get their variant (the stable hash, a page at a time; the rest none), and
a local_time campaign's their due time (one UPDATE per contact timezone).

The account's timezone (its profile's: its own, else the deployment's TIMEZONE) is read
when the campaign starts: a `send_at` without an offset is a wall time there, and it is
kept with the plan for local_time's recipients without a timezone of their own."""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from connector.engine.common import next_local_time, zone
from connector.models import CampaignRecipient, CampaignRun, Contact
from connector.segment_sql import audience_query
from connector.services.campaigns.errors import CampaignError
from connector.services.campaigns.plan import SendPlan, plan_of

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.orm import Session

    from connector.runtime import Runtime

# next_local_time is strictly after: a start at 09:00 sharp sends a 09:00 recipient now.
_JUST_BEFORE = timedelta(microseconds=1)
# Recipients per INSERT ... SELECT: one short write transaction each (SQLite has one writer).
FREEZE_CHUNK = 5000
# PostgreSQL's chunks are larger (fewer statements; measured with
# bench/audience_resolution.py --freeze-chunk).
FREEZE_CHUNK_POSTGRES = 20_000
# The plan's key for the account's timezone when the campaign started: a local_time
# recipient without a timezone is due in it, an A/B test's rest picked days later too (a
# campaign started before accounts had one has none: UTC, as it was started).
PLAN_TIMEZONE = "timezone"


def start_campaign(rt: Runtime, account_id: int, key: str, *, at: datetime | None = None
                   ) -> int:
    """Start the live workspace's campaign `key`: at `at` or its `send_at` when that is
    still ahead (state `scheduled`: the scheduler starts it then), else now (the audience
    frozen, state `sending`, the first advance queued). Returns the campaign's id."""
    now = rt.clock.now()
    if at is not None and at.tzinfo is None:
        raise CampaignError("the start time needs a UTC offset (2026-05-01T09:00+02:00)")
    with rt.db.session() as session:
        live = rt.workspaces.live(session, account_id)
        campaign = live.workspace.campaigns.get(key)
        if campaign is None:
            known = ", ".join(sorted(live.workspace.campaigns)) or "none"
            raise CampaignError(f"account {account_id}'s live workspace has no campaign "
                                f"{key!r} (campaigns: {known})")
        started = session.scalar(select(CampaignRun.state).where(
            CampaignRun.account_id == account_id, CampaignRun.key == key))
        if started is not None:
            raise CampaignError(f"campaign {key} was started already (it is {started}); "
                                "a campaign is sent once: copy it under a new key to resend")
        zone = live.profile.timezone
        when = at or campaign.starts_at(zone)
        scheduled = when is not None and when > now
        run = CampaignRun(
            account_id=account_id, key=key, name=campaign.name, version=campaign.version,
            workspace_version=live.profile.workspace_version,
            plan={**plan_of(campaign), PLAN_TIMEZONE: zone.key},
            state="scheduled" if scheduled else "sending", send_at=when, created_at=now,
            started_at=None if scheduled else now,
        )
        session.add(run)
        try:
            session.flush()
        except IntegrityError:
            raise CampaignError(f"campaign {key} was started already (by another "
                                "command at the same moment)") from None
        campaign_id = run.id
    if not scheduled:
        freeze_audience(rt, campaign_id)
        rt.work.advance_campaign(campaign_id)
    return campaign_id


def start_due_campaigns(rt: Runtime, now: datetime) -> int:
    """Scheduled campaigns whose time has come move to `sending` (one tick wins each: a
    conditional UPDATE) and get their first advance, which freezes the audience."""
    with rt.db.session() as session:
        due = session.scalars(
            update(CampaignRun)
            .where(CampaignRun.state == "scheduled", CampaignRun.send_at <= now)
            .values(state="sending", started_at=now)
            .returning(CampaignRun.id)
        ).all()
    for campaign_id in due:
        rt.work.advance_campaign(campaign_id)
    return len(due)


def freeze_audience(rt: Runtime, campaign_id: int) -> int | None:
    """Resolve the audience once and keep it; idempotent (a freeze cut short by a crash
    goes on after the last contact it inserted). Returns its size, None when the campaign
    is gone or not sending (cancelled meanwhile)."""
    with rt.db.session() as session:
        run = session.get(CampaignRun, campaign_id)
        if run is None or run.state not in ("sending", "paused"):
            return None
        if run.audience is not None:
            return run.audience
        account_id, plan = run.account_id, SendPlan(run.key, run.plan)
        # Windows ("opened in the last 30 days") are read at the moment sending started.
        at = run.started_at or rt.clock.now()
    chunk = freeze_chunk(rt)
    after: int | None
    with rt.db.session() as session:  # a freeze cut short goes on after its last contact
        size, after = session.execute(
            select(func.count(), func.max(CampaignRecipient.contact_id))
            .where(CampaignRecipient.campaign_id == campaign_id)).one()
    while True:
        page, residual = audience_query(plan.audience, account_id=account_id, now=at,
                                        after=after)
        if residual is not None:  # the workspace check refuses these; never partial
            raise CampaignError(f"campaign {campaign_id}: its audience cannot be resolved "
                                "in SQL")
        page = page.where(Contact.deleted_at.is_(None), Contact.merged_into_id.is_(None),
                          Contact.email.is_not(None))
        with rt.db.session() as session:
            inserted, last = _insert_chunk(session, campaign_id, page.limit(chunk))
        size += inserted
        if inserted < chunk:  # a short chunk is the last: no empty query to find the end
            break
        after = last
    _assign_variants(rt, campaign_id, plan)
    with rt.db.session() as session:
        if plan.local_time is not None:
            set_due_times(session, campaign_id, plan.local_time, at)
        session.execute(update(CampaignRun).where(CampaignRun.id == campaign_id,
                                                  CampaignRun.audience.is_(None))
                        .values(audience=size))
    return size


def freeze_chunk(rt: Runtime) -> int:
    """Recipients per freeze chunk: FREEZE_CHUNK on SQLite (its one writer waits for each),
    FREEZE_CHUNK_POSTGRES on PostgreSQL."""
    return FREEZE_CHUNK if rt.db.is_sqlite else FREEZE_CHUNK_POSTGRES


def _insert_chunk(session: Session, campaign_id: int, page: Select[tuple[int]]
                  ) -> tuple[int, int | None]:
    """INSERT ... SELECT one keyset page of the audience; returns (rows inserted, the last
    contact id among them), the next page's `after`."""
    rows = page.subquery()
    inserting = insert(CampaignRecipient).from_select(
        ["campaign_id", "contact_id", "position", "state"],
        select(literal(campaign_id), rows.c.id, rows.c.id, literal("waiting")),
    ).returning(CampaignRecipient.contact_id)
    if session.get_bind().dialect.name != "sqlite":
        # Counted in SQL: psycopg's rowcount is -1 for INSERT ... SELECT, and RETURNING
        # alone would ship every id here just to be counted.
        inserted = inserting.cte("inserted")
        count, last = session.execute(
            select(func.count(), func.max(inserted.c.contact_id))).one()
        return int(count), last
    # SQLite has no INSERT inside WITH: fold the chunk's RETURNING rows (in no set order).
    count, last = 0, None
    for contact_id in session.scalars(inserting):
        count, last = count + 1, contact_id if last is None else max(last, contact_id)
    return count, last


def _assign_variants(rt: Runtime, campaign_id: int, plan: SendPlan) -> None:
    """Each recipient's sample variant, in keyset pages (the hash is Python's: SQL cannot
    compute it). Deterministic, so a freeze cut short simply does it again."""
    if not plan.variant_keys:
        return
    after = 0
    while True:
        with rt.db.session() as session:
            page = list(session.scalars(
                select(CampaignRecipient.contact_id)
                .where(CampaignRecipient.campaign_id == campaign_id,
                       CampaignRecipient.contact_id > after)
                .order_by(CampaignRecipient.contact_id).limit(FREEZE_CHUNK)))
            sampled = [{"campaign_id": campaign_id, "contact_id": contact_id,
                        "variant": variant} for contact_id in page
                       if (variant := plan.sample_variant(contact_id)) is not None]
            if sampled:
                session.execute(update(CampaignRecipient), sampled)
        if len(page) < FREEZE_CHUNK:
            return
        after = page[-1]


def set_due_times(session: Session, campaign_id: int, local_time: time, since: datetime,
                  *, rest_only: bool = False) -> None:
    """Waiting recipients are due at the first `local_time` at or after `since` in their
    contact's timezone (none or an unknown one: the account's when the campaign started),
    so within 24 hours. `rest_only`: those without a variant (an A/B test's rest, after
    the pick)."""
    recipients = [CampaignRecipient.campaign_id == campaign_id,
                  CampaignRecipient.state == "waiting"]
    if rest_only:
        recipients.append(CampaignRecipient.variant.is_(None))
    run = session.get(CampaignRun, campaign_id)
    account_zone = zone((run.plan if run else {}).get(PLAN_TIMEZONE))
    names = session.scalars(select(Contact.timezone).distinct().join(
        CampaignRecipient, CampaignRecipient.contact_id == Contact.id).where(*recipients))
    for name in list(names):
        tz = _contact_zone(name, account_zone)
        due = next_local_time(since - _JUST_BEFORE, tz, local_time)
        in_zone = (Contact.timezone.is_(None) if name is None else Contact.timezone == name)
        session.execute(update(CampaignRecipient).where(
            *recipients, CampaignRecipient.contact_id.in_(select(Contact.id).where(in_zone)))
            .values(due_at=due).execution_options(synchronize_session=False))


def _contact_zone(name: str | None, account_zone: tzinfo) -> tzinfo:
    """A contact's timezone; none, or a name that is no IANA zone: the account's."""
    if not name:
        return account_zone
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return account_zone
