"""Reading a whole CRM into the inbox: a backfill (every contact, as `crm.contact.imported`
events: the mirror and segments fill, no flow starts) and a reconciliation (what changed
since the watermark, as `crm.contact.synced` events: what the missed webhooks would have
done).

Each page read is stored in one transaction (its events and the watermark together) and
the inbox is woken after the commit, so a run cut short keeps every page it stored and a
rerun stores nothing twice (the dedup keys name the record's change time). A change that
a webhook did deliver comes back through the reconciliation too: its handler is an
upsert, so the second application finds nothing changed and signals nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from adapters.errors import CRMError, DisconnectedError, RetryableCRMError
from adapters.inbound import CONTACT_IMPORTED, CONTACT_SYNCED
from adapters.port import ContactPage, CrmContact
from connector.db import after_commit
from connector.models import Account
from connector.services.crm_events import record_data
from connector.services.inbox import record_inbox_event
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
    synced_through: datetime | None = None  # the account's watermark at the end
    outcome: Outcome = "complete"
    reason: str | None = None  # why it was not complete

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


def backfill(rt: Runtime, account_id: int, *, progress: ProgressHook | None = None
             ) -> SyncReport:
    """Every contact of the account's CRM into the inbox as imported events; once read to
    the end, the watermark is the backfill's start (reconciliation goes on from there)."""
    started = rt.clock.now()
    target = _target(rt, account_id)
    report = SyncReport(account_id, "backfill", synced_through=target.synced_through)
    if target.status != "connected":
        return _not_connected(report, target)
    crm = rt.crm_for(target.account)
    after: str | None = None
    try:
        while True:
            page = crm.list_contacts(properties=target.properties, after=after)
            _count(report, page)
            report.stored += _store(rt, target, CONTACT_IMPORTED, "import", page.contacts)[0]
            _tell(progress, report)
            if page.after is None:
                break
            after = page.after
    except CRMError as exc:
        return _stopped(report, exc)
    report.synced_through = _advance(rt, account_id, started - OVERLAP)
    return report


def reconcile(rt: Runtime, account_id: int, *, progress: ProgressHook | None = None
              ) -> SyncReport:
    """Every contact changed since the watermark (never synced: since the install) into
    the inbox as synced events, oldest change first. The watermark follows each page (the
    newest change stored, less the overlap); read to the end, it reaches the run's start
    (less the overlap): a quiet account is not due again for a whole interval."""
    started = rt.clock.now()
    target = _target(rt, account_id)
    report = SyncReport(account_id, "reconcile", synced_through=target.synced_through)
    if target.status != "connected":
        return _not_connected(report, target)
    crm = rt.crm_for(target.account)
    since = target.synced_through or target.created_at
    after: str | None = None
    pass_read, first_page = 0, 0
    try:
        while True:
            page = crm.changed_since(since=since, properties=target.properties, after=after)
            _count(report, page)
            pass_read += len(page.contacts)
            first_page = first_page or len(page.contacts)
            newest = max((c.updated_at for c in page.contacts if c.updated_at), default=None)
            stored, watermark = _store(rt, target, CONTACT_SYNCED, "sync", page.contacts,
                                       watermark=newest - OVERLAP if newest else None)
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
    report.synced_through = _advance(rt, account_id, started - OVERLAP)
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


def _store(rt: Runtime, target: _Target, kind: str, prefix: str,
           records: Sequence[CrmContact], *, watermark: datetime | None = None
           ) -> tuple[int, datetime | None]:
    """One page's events and the watermark it reaches, in one transaction: how many
    events were new, and the watermark after it (None: not moved)."""
    now = rt.clock.now()
    stored = 0
    with rt.db.session() as session:
        for record in records:
            _, created = record_inbox_event(
                session, account_id=target.account_id, source=target.provider,
                dedup_key=f"{prefix}:{record.crm_id}:{_ms(record.updated_at)}", kind=kind,
                payload=record_data(record), occurred_at=record.updated_at or now, now=now)
            stored += created
        moved = _move_watermark(session, target.account_id, watermark) if watermark else None
        if stored:
            after_commit(session, rt.work.wake_inbox)
    return stored, moved


def _advance(rt: Runtime, account_id: int, watermark: datetime) -> datetime | None:
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


def _past_the_cap(page: ContactPage, pass_read: int, first_page: int) -> datetime | None:
    """Where a new pass starts when this one ended at the CRM's cap, else None. Capped:
    the CRM counted more than it let us read, or (saying no total) the pass had more
    than one page and its last one is as full as the first."""
    if not page.contacts or page.contacts[-1].updated_at is None:
        return None
    capped = (pass_read < page.total if page.total is not None
              else pass_read > first_page and len(page.contacts) >= first_page)
    return page.contacts[-1].updated_at - ONE_MS if capped else None


def _count(report: SyncReport, page: ContactPage) -> None:
    report.pages += 1
    report.contacts += len(page.contacts)
    if report.total is None:
        report.total = page.total


def _tell(progress: ProgressHook | None, report: SyncReport) -> None:
    if progress is not None:
        progress(report)


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


def _ms(moment: datetime | None) -> int:
    return int(moment.timestamp() * 1000) if moment is not None else 0
