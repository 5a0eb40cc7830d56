"""The CRM port: what the core reads from and writes to any CRM, in the core's words.
Vendor SDKs, property names, batch sizes and error codes live only behind it, in each
adapter's package (adapters/hubspot/, adapters/salesforce/).

Each account has its own adapter, built from its credentials (`Credentials`), a store to
keep refreshed tokens in (`CredentialStore`) and a rate limiter shared by every worker
(`RateLimiter`); the core implements those two ports, the adapters use them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

# ---- what the core reads ----------------------------------------------------------------


@dataclass(frozen=True)
class CrmContact:
    """A contact as the CRM has it now: its properties in the CRM's own names and values
    (text, as CRMs send them), minus values the CRM hides (HubSpot's REDACTED)."""

    crm_id: str
    email: str | None
    properties: dict[str, Any]
    opted_out: bool  # the CRM's own "do not email" flag
    updated_at: datetime | None = None
    created_at: datetime | None = None
    # The CRM marks the address undeliverable (Salesforce's IsEmailBounced).
    bounced: bool = False
    # This record became another one (a Salesforce Lead converted to the Contact with
    # this id): its history belongs to that one now.
    merged_into: str | None = None


@dataclass(frozen=True)
class ContactPage:
    contacts: list[CrmContact]
    after: str | None  # the cursor of the next page; None on the last one
    total: int | None = None  # when the CRM says how many there are in all (progress bars)


@dataclass(frozen=True)
class DeletedRecord:
    crm_id: str
    deleted_at: datetime  # aware, UTC


@dataclass(frozen=True)
class DeletedRecords:
    """The contacts a CRM deleted in a window it can read back (Salesforce's deleted-records
    log), oldest first, with how much of the asked window it could vouch for; or, for a CRM
    that sends every deletion as a webhook, `pushed` and nothing read (PUSHED_DELETIONS)."""

    records: list[DeletedRecord] = field(default_factory=list)
    # The window began here, later than asked: the CRM keeps deletions for a while only
    # (Salesforce: 15 days), so those before this moment could not be read.
    clamped_from: datetime | None = None
    # Every deletion up to here is in `records`: the next read may start here, not later
    # (Salesforce's latestDateCovered; its API ignores the seconds of a window's ends).
    covered_through: datetime | None = None
    # The CRM purged its log up to here, after the window began (Salesforce's
    # earliestDateAvailable): deletions before this moment may be missing.
    purged_through: datetime | None = None
    pushed: bool = False


PUSHED_DELETIONS = DeletedRecords(pushed=True)


class CRMReader(Protocol):
    def get_contacts(self, *, crm_ids: Sequence[str], properties: Sequence[str]
                     ) -> list[CrmContact]:
        """The contacts among these ids that exist (any number of ids: the adapter
        batches them); a merged-away id may come back as its winner's record."""
        ...

    def list_contacts(self, *, properties: Sequence[str], after: str | None = None
                      ) -> ContactPage:
        """One page of every contact, for a backfill."""
        ...

    def changed_since(self, *, since: datetime, properties: Sequence[str],
                      after: str | None = None) -> ContactPage:
        """One page of the contacts modified after `since`, oldest change first, for a
        reconciliation that heals missed webhooks."""
        ...

    def deleted_since(self, *, since: datetime) -> DeletedRecords:
        """The contacts deleted after `since` (timezone-aware: a naive one is a ValueError),
        oldest first, for a reconciliation: a CRM that sends no webhook on a delete is read
        back (some deleted shortly before `since` may come too: Salesforce rounds a window's
        start down to the minute). One that sends every deletion as a webhook answers
        PUSHED_DELETIONS, reading nothing."""
        ...


# ---- what the core writes ---------------------------------------------------------------

ActivityKind = Literal["email_sent", "email_failed", "bounced"]


@dataclass(frozen=True)
class EmailActivity:
    """One email to show on the contact's CRM timeline (sent, or failed or bounced).
    `record_id` is what the CRM answered for an earlier write about the same email
    (the engagement or task to update), when there was one."""

    writeback_id: int
    kind: ActivityKind
    contact_crm_id: str | None
    email: str
    subject: str
    text: str
    occurred_at: datetime
    message_id: str  # our public id of the email: the CRM record's idempotency handle
    record_id: str | None = None
    # The name of the campaign that sent it (None for a flow's email): a rep reads the
    # timeline by campaign ("Spring sale sneak peek"), not by subject line.
    campaign: str | None = None
    # An earlier attempt may have reached the CRM without its answer reaching us (a
    # timeout, a worker killed mid-call): look for the record before creating it again.
    maybe_written: bool = False


@dataclass(frozen=True)
class EngagementSummary:
    """How a contact engages with our emails, as of now: written over the CRM's copy
    (absolute values, so a retry or a reordering cannot double a count)."""

    writeback_id: int
    contact_crm_id: str | None
    email: str
    opens: int
    clicks: int
    last_open_at: datetime | None
    last_click_at: datetime | None
    last_clicked_url: str | None
    last_email_subject: str | None
    active_flows: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PropertyUpdate:
    """Set properties on the contact (a flow's update-property step)."""

    writeback_id: int
    contact_crm_id: str | None
    email: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class Task:
    """A to-do for the contact's owner ("hot lead clicked pricing")."""

    writeback_id: int
    contact_crm_id: str | None
    email: str
    subject: str
    body: str
    due_at: datetime | None


@dataclass(frozen=True)
class OptOut:
    """The contact unsubscribed from our emails: record it where the CRM keeps it."""

    writeback_id: int
    contact_crm_id: str | None
    email: str
    occurred_at: datetime


@dataclass(frozen=True)
class WriteResult:
    writeback_id: int
    ok: bool
    retryable: bool = False
    error: str | None = None
    record_id: str | None = None  # the CRM's id of what was written, when it has one


class CRMWriter(Protocol):
    # Each call takes any number of inputs (the adapter splits them into its CRM's batch
    # size) and returns one result per input, in order. A failure of a whole call that a
    # retry may fix (429, 5xx, a timeout) raises adapters.errors.RetryableCRMError;
    # lost credentials raise adapters.errors.DisconnectedError.
    def write_activities(self, *, activities: Sequence[EmailActivity]) -> list[WriteResult]: ...

    def write_engagement(self, *, summaries: Sequence[EngagementSummary]) -> list[WriteResult]:
        ...

    def update_properties(self, *, updates: Sequence[PropertyUpdate]) -> list[WriteResult]: ...

    def create_tasks(self, *, tasks: Sequence[Task]) -> list[WriteResult]: ...

    def record_opt_outs(self, *, opt_outs: Sequence[OptOut]) -> list[WriteResult]: ...


class CRMAdapter(CRMReader, CRMWriter, Protocol):
    provider: str

    def prepare(self) -> None:
        """Make what the connector writes exist in the CRM (HubSpot: the app's property
        group and properties). Idempotent; called at install and before the first write."""
        ...


# ---- what adapters need from the core ---------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    account_id: int
    provider: str
    external_id: str  # HubSpot portal (hub) id, Salesforce org id
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None  # None: does not expire (a private-app token)
    instance_url: str | None = None


@dataclass(frozen=True)
class TokenGrant:
    """What a token endpoint answered."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    instance_url: str | None = None


class CredentialStore(Protocol):
    def load(self, account_id: int) -> Credentials: ...

    def refresh(self, account_id: int, stale_token: str,
                exchange: RefreshExchange) -> Credentials:
        """Refresh once for every worker: under the account's lock, if the stored token is
        still `stale_token`, call `exchange` and keep what it grants; else return what
        another worker stored."""
        ...

    def disconnect(self, account_id: int, reason: str) -> None:
        """The CRM revoked us (uninstalled, refresh token refused): stop using it."""
        ...


class RefreshExchange(Protocol):
    def __call__(self, credentials: Credentials) -> TokenGrant: ...


class RateLimiter(Protocol):
    def acquire(self, key: str, *, limit: int, window: float, timeout: float) -> None:
        """Block until one request under `limit` per `window` seconds is free for `key`
        (shared by every process); raise RetryableCRMError after `timeout` seconds."""
        ...

    def pause(self, key: str, seconds: float) -> None:
        """The CRM said 429: nobody sends for `key` for `seconds`."""
        ...
