"""HubSpotCRM: the CRM port for one HubSpot account (its portal, its tokens), built on the
client (HTTP, limits, retries) and the per-object mappings."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from adapters.hubspot.client import HubSpotClient, HubSpotConfig
from adapters.hubspot.contacts import changed_page, list_page, read_contacts
from adapters.hubspot.properties import prepare
from adapters.hubspot.tokens import PROVIDER, AccountTokens
from adapters.hubspot.writeback import Writer
from adapters.port import (
    PUSHED_DELETIONS,
    ContactPage,
    CredentialStore,
    CrmContact,
    DeletedRecords,
    EmailActivity,
    EngagementSummary,
    OptOut,
    PropertyUpdate,
    RateLimiter,
    RefreshExchange,
    Task,
    WriteResult,
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class HubSpotCRM:
    """One account's HubSpot. Credentials are loaded on first use, never before, and only
    ever this account's; `now` is the clock token expiry and task due times are read on.
    `prepared=True` says the portal already has the app's properties (else the first
    engagement summary runs `prepare` first: three requests when they exist)."""

    provider = PROVIDER

    def __init__(self, *, account_id: int, store: CredentialStore, limiter: RateLimiter,
                 config: HubSpotConfig, exchange: RefreshExchange | None = None,
                 now: Callable[[], datetime] = _utcnow, prepared: bool = False) -> None:
        self.account_id = account_id
        self._tokens = AccountTokens(account_id=account_id, store=store, exchange=exchange,
                                     now=now)
        self._client = HubSpotClient(tokens=self._tokens, limiter=limiter, config=config)
        self._writer = Writer(self._client, now)
        self._prepared = prepared
        self._prepare_lock = threading.Lock()

    @property
    def portal(self) -> str:
        return self._tokens.portal

    # ---- reads ------------------------------------------------------------------------

    def get_contacts(self, *, crm_ids: Sequence[str], properties: Sequence[str]
                     ) -> list[CrmContact]:
        return read_contacts(self._client, crm_ids, properties)

    def list_contacts(self, *, properties: Sequence[str], after: str | None = None
                      ) -> ContactPage:
        return list_page(self._client, properties, after)

    def changed_since(self, *, since: datetime, properties: Sequence[str],
                      after: str | None = None) -> ContactPage:
        """At search's 10,000-result cap the page answers after=None and the caller starts
        again from the last contact's updated_at (adapters.hubspot.contacts.changed_page)."""
        return changed_page(self._client, since, properties, after)

    def deleted_since(self, *, since: datetime) -> DeletedRecords:
        """Nothing read: HubSpot sends every deletion as a webhook (contact.deletion,
        contact.privacyDeletion), which the app subscribes to at install. A lost one is not
        healed here (HubSpot can list archived contacts, `archived=true`; not read yet)."""
        if since.tzinfo is None:
            raise ValueError("deleted_since needs a timezone-aware datetime")
        return PUSHED_DELETIONS

    # ---- writes -----------------------------------------------------------------------

    def prepare(self) -> None:
        with self._prepare_lock:
            prepare(self._client)
            self._prepared = True

    def write_activities(self, *, activities: Sequence[EmailActivity]) -> list[WriteResult]:
        return self._writer.write_activities(activities)

    def write_engagement(self, *, summaries: Sequence[EngagementSummary]) -> list[WriteResult]:
        self._ensure_prepared()
        return self._writer.write_engagement(summaries)

    def update_properties(self, *, updates: Sequence[PropertyUpdate]) -> list[WriteResult]:
        return self._writer.update_properties(updates)

    def create_tasks(self, *, tasks: Sequence[Task]) -> list[WriteResult]:
        return self._writer.create_tasks(tasks)

    def record_opt_outs(self, *, opt_outs: Sequence[OptOut]) -> list[WriteResult]:
        return self._writer.record_opt_outs(opt_outs)

    def _ensure_prepared(self) -> None:
        # HubSpot refuses writes to properties that do not exist: make sure, once.
        if not self._prepared:
            self.prepare()
