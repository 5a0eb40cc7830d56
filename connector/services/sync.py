"""Reading a whole CRM into the inbox: a backfill (every contact, as `crm.contact.imported`
events: the mirror and segments fill, no flow starts) and a reconciliation (what changed
since the watermark, as `crm.contact.synced` events: what the missed webhooks would have
done). Both first read the deletions since the watermark from a CRM that keeps a log of
them (Salesforce: no Outbound Message on a delete), as `crm.contact.deleted` events that
erase the mirror row; a CRM that sends deletions as webhooks (HubSpot) is not asked.

Each page read is stored in one transaction (its events and the watermark together:
connector.services.sync_inbox), so a run cut short keeps every page it stored and a rerun
stores nothing twice. A change that a webhook did deliver comes back through the
reconciliation too: its handler is an upsert, so the second application finds nothing
changed and signals nothing.

Deletions come first because the watermark is one moment for both: were they read after
the changed pages moved it, a run stopped between the two would skip them for good. The
watermark never passes what the CRM vouched for (its log's `covered_through`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from adapters.errors import CRMError, DisconnectedError, RetryableCRMError
from adapters.inbound import CONTACT_IMPORTED, CONTACT_SYNCED
from adapters.port import ContactPage, CRMReader
from connector.models import Account
from connector.services.sync_inbox import (
    SyncEvent,
    advance_watermark,
    deletion_events,
    record_events,
    store_page,
)
from connector.workspaces.usage import properties_used

if TYPE_CHECKING:
    from connector.runtime import Runtime

log = logging.getLogger(__name__)

# The watermark stays this far behind the newest change seen: our clock and the CRM's
# differ a little, and a CRM's search index lags its writes by seconds. What the overlap
# reads again is deduplicated by the inbox.
OVERLAP = timedelta(minutes=1)
ONE_MS = timedelta(milliseconds=1)
# Accounts that have no CRM to read ("local": standalone accounts).
NO_CRM = ("local",)

Mode = Literal["backfill", "reconcile"]
# complete: read to the end | interrupted: the CRM cannot be read now (a rerun goes on) |
# disconnected: the account lost its CRM (nothing read) | failed: the CRM refused the read.
Outcome = Literal["complete", "interrupted", "disconnected", "failed"]


@dataclass
class SyncReport:
    """How far a sync got; updated after every page (what a progress bar shows)."""

    account_id: int
    mode: Mode
    pages: int = 0
    contacts: int = 0  # records read
    stored: int = 0  # inbox events new from this run (the rest were stored before)
    total: int | None = None  # when the CRM says how many there are
    deleted: int | None = None  # deletions read; None: the CRM sends them as webhooks
    synced_through: datetime | None = None  # the account's watermark at the end
    outcome: Outcome = "complete"
    reason: str | None = None  # why it was not complete
    warnings: list[str] = field(default_factory=list)  # what may be missing, and why

    @property
    def complete(self) -> bool:
        return self.outcome == "complete"


ProgressHook = Callable[[SyncReport], None]


@dataclass(frozen=True)
class _Target:
    account_id: int
    provider: str
    status: str
    created_at: datetime
    synced_through: datetime | None
    properties: list[str]
    account: Account  # detached: what rt.crm_for needs

    @property
    def since(self) -> datetime:
        """Where reading changes and deletions starts: the watermark, else the install."""
        return self.synced_through or self.created_at


def backfill(rt: Runtime, account_id: int, *, progress: ProgressHook | None = None
             ) -> SyncReport:
    """Every contact of the account's CRM into the inbox as imported events, after the
    deletions since the watermark (it moves on: they would never be read otherwise); once
    read to the end, the watermark is the backfill's start (less the overlap, and never
    past the deletions the CRM vouched for): reconciliation goes on from there."""
    started = rt.clock.now()
    target = _target(rt, account_id)
    report = SyncReport(account_id, "backfill", synced_through=target.synced_through)
    if target.status != "connected":
        return _not_connected(report, target)
    crm = rt.crm_for(target.account)
    after: str | None = None
    try:
        covered = _read_deletions(rt, target, crm, report)
        while True:
            page = crm.list_contacts(properties=target.properties, after=after)
            _count(report, page)
            report.stored += _store(rt, target, record_events(CONTACT_IMPORTED, "import",
                                                              page.contacts))[0]
            _tell(progress, report)
            if page.after is None:
                break
            after = page.after
    except CRMError as exc:
        return _stopped(report, exc)
    report.synced_through = advance_watermark(rt, account_id,
                                              _capped(started - OVERLAP, covered))
    return report


def reconcile(rt: Runtime, account_id: int, *, progress: ProgressHook | None = None
              ) -> SyncReport:
    """Every contact changed since the watermark (never synced: since the install) into
    the inbox as synced events, oldest change first. The watermark follows each page (the
    newest change stored, less the overlap); read to the end, it reaches the run's start
    (less the overlap, and never past the deletions the CRM vouched for): a quiet account
    is not due again for a whole interval."""
    started = rt.clock.now()
    target = _target(rt, account_id)
    report = SyncReport(account_id, "reconcile", synced_through=target.synced_through)
    if target.status != "connected":
        return _not_connected(report, target)
    crm = rt.crm_for(target.account)
    since = target.since
    after: str | None = None
    pass_read, first_page = 0, 0
    try:
        covered = _read_deletions(rt, target, crm, report)
        while True:
            page = crm.changed_since(since=since, properties=target.properties, after=after)
            _count(report, page)
            pass_read += len(page.contacts)
            first_page = first_page or len(page.contacts)
            newest = max((c.updated_at for c in page.contacts if c.updated_at), default=None)
            events = record_events(CONTACT_SYNCED, "sync", page.contacts)
            stored, watermark = _store(rt, target, events,
                                       watermark=_capped(newest - OVERLAP, covered)
                                       if newest else None)
            report.stored += stored
            report.synced_through = watermark or report.synced_through
            _tell(progress, report)
            if page.after is not None:
                after = page.after
                continue
            resume = _past_the_cap(page, pass_read, first_page)
            if resume is None:
                break
            if resume <= since:
                log.warning("account %s: more changes in one millisecond than the CRM's "
                            "search answers; the rest are read at their next change",
                            account_id)
                break
            # The CRM's search stops at a cap (HubSpot: 10,000 results): a new pass from
            # the last change read (a millisecond before it: none in it is skipped).
            since, after, pass_read, first_page = resume, None, 0, 0
    except CRMError as exc:
        return _stopped(report, exc)
    report.synced_through = advance_watermark(rt, account_id,
                                              _capped(started - OVERLAP, covered))
    rt.work.reconcile_completed(account_id)
    return report


def accounts_due_for_reconcile(session: Session, now: datetime, every: timedelta
                               ) -> list[int]:
    """Connected CRM accounts whose watermark is older than `every`, or never synced and
    connected longer ago than that."""
    due = now - every
    return list(session.scalars(
        select(Account.id).where(
            Account.status == "connected",
            Account.provider.not_in(NO_CRM),
            or_(Account.crm_synced_through < due,
                and_(Account.crm_synced_through.is_(None), Account.created_at < due)),
        ).order_by(Account.id)
    ))


def _target(rt: Runtime, account_id: int) -> _Target:
    with rt.db.session() as session:
        account = session.get(Account, account_id)
        if account is None:
            raise LookupError(f"no account {account_id}")
        properties = sorted(properties_used(rt.workspaces.live(session, account_id).workspace))
        session.expunge(account)
    return _Target(account.id, account.provider, account.status, account.created_at,
                   account.crm_synced_through, properties, account)


def _read_deletions(rt: Runtime, target: _Target, crm: CRMReader, report: SyncReport
                    ) -> datetime | None:
    """The deletions since the watermark into the inbox, in one transaction; how far the
    CRM vouched for them (the watermark may not pass it), None when it pushes them."""
    deletions = crm.deleted_since(since=target.since)
    if deletions.pushed:
        return None
    report.deleted = len(deletions.records)
    report.stored += _store(rt, target, deletion_events(deletions.records))[0]
    if deletions.clamped_from is not None:
        _warn(report, f"deletions before {_stamp(deletions.clamped_from)} were not read: the "
                      f"CRM keeps them no longer (asked from {_stamp(target.since)})")
    if deletions.purged_through is not None:
        _warn(report, "deletions before "
                      f"{_stamp(deletions.purged_through)} may have been missed: the CRM "
                      f"purged its log of them (asked from {_stamp(target.since)})")
    return deletions.covered_through


def _store(rt: Runtime, target: _Target, events: Sequence[SyncEvent], *,
           watermark: datetime | None = None) -> tuple[int, datetime | None]:
    return store_page(rt, target.account_id, target.provider, events, watermark=watermark)


def _past_the_cap(page: ContactPage, pass_read: int, first_page: int) -> datetime | None:
    """Where a new pass starts when this one ended at the CRM's cap, else None. Capped:
    the CRM counted more than it let us read, or (saying no total) the pass had more
    than one page and its last one is as full as the first."""
    if not page.contacts or page.contacts[-1].updated_at is None:
        return None
    capped = (pass_read < page.total if page.total is not None
              else pass_read > first_page and len(page.contacts) >= first_page)
    return page.contacts[-1].updated_at - ONE_MS if capped else None


def _capped(watermark: datetime, ceiling: datetime | None) -> datetime:
    return watermark if ceiling is None else min(watermark, ceiling)


def _count(report: SyncReport, page: ContactPage) -> None:
    report.pages += 1
    report.contacts += len(page.contacts)
    if report.total is None:
        report.total = page.total


def _tell(progress: ProgressHook | None, report: SyncReport) -> None:
    if progress is not None:
        progress(report)


def _warn(report: SyncReport, warning: str) -> None:
    report.warnings.append(warning)
    log.warning("account %s: %s: %s", report.account_id, report.mode, warning)


def _not_connected(report: SyncReport, target: _Target) -> SyncReport:
    report.outcome = "disconnected"
    report.reason = f"account {target.account_id} is {target.status}"
    return report


def _stopped(report: SyncReport, exc: CRMError) -> SyncReport:
    if isinstance(exc, DisconnectedError):
        report.outcome = "disconnected"
    elif isinstance(exc, RetryableCRMError):
        report.outcome = "interrupted"
    else:
        report.outcome = "failed"
    report.reason = str(exc)
    log.log(logging.INFO if report.outcome == "disconnected" else logging.WARNING,
            "account %s: %s stopped after %d page(s): %s", report.account_id, report.mode,
            report.pages, exc)
    return report


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
