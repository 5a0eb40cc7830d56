"""SalesforceCRM: the CRM port for one Salesforce account (its org, its session), built on
the client (simple-salesforce, limits, retries, session refresh) and the mappings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import requests

from adapters.port import (
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
from adapters.salesforce.client import SalesforceClient, SalesforceConfig
from adapters.salesforce.contacts import changed_page, list_page, read_contacts
from adapters.salesforce.deletions import deleted_since
from adapters.salesforce.fields import FieldCatalog
from adapters.salesforce.tokens import PROVIDER, AccountTokens
from adapters.salesforce.writeback import Writer


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SalesforceCRM:
    """One account's org. Credentials (with the instance URL) are loaded on first use;
    `now` dates tasks without a due time and ends the deleted-records windows;
    `session_factory` builds the requests.Session simple-salesforce sends through (tests
    pass the emulator's plain-HTTP one)."""

    provider = PROVIDER

    def __init__(self, *, account_id: int, store: CredentialStore, limiter: RateLimiter,
                 config: SalesforceConfig, exchange: RefreshExchange | None = None,
                 now: Callable[[], datetime] = _utcnow,
                 session_factory: Callable[[], requests.Session] = requests.Session) -> None:
        self.account_id = account_id
        self._tokens = AccountTokens(account_id=account_id, store=store, exchange=exchange)
        self._client = SalesforceClient(tokens=self._tokens, limiter=limiter, config=config,
                                        session_factory=session_factory)
        self._fields = FieldCatalog(self._client)
        self._writer = Writer(self._client, self._fields, now)
        self._now = now

    @property
    def org_id(self) -> str:
        return self._tokens.org_id

    # ---- reads ------------------------------------------------------------------------

    def get_contacts(self, *, crm_ids: Sequence[str], properties: Sequence[str]
                     ) -> list[CrmContact]:
        return read_contacts(self._client, self._fields, crm_ids, properties)

    def list_contacts(self, *, properties: Sequence[str], after: str | None = None
                      ) -> ContactPage:
        return list_page(self._client, self._fields, properties, after)

    def changed_since(self, *, since: datetime, properties: Sequence[str],
                      after: str | None = None) -> ContactPage:
        return changed_page(self._client, self._fields, since, properties, after)

    def deleted_since(self, *, since: datetime) -> DeletedRecords:
        """Read back from the org's deleted-records log (no Outbound Message says so): 15
        days at most, clamped (adapters.salesforce.deletions)."""
        return deleted_since(self._client, since, self._now())

    # ---- writes -----------------------------------------------------------------------

    def prepare(self) -> None:
        """Nothing to create: Tasks and the Contact/Lead fields we write are standard."""

    def write_activities(self, *, activities: Sequence[EmailActivity]) -> list[WriteResult]:
        return self._writer.write_activities(activities)

    def write_engagement(self, *, summaries: Sequence[EngagementSummary]) -> list[WriteResult]:
        return self._writer.write_engagement(summaries)

    def update_properties(self, *, updates: Sequence[PropertyUpdate]) -> list[WriteResult]:
        return self._writer.update_properties(updates)

    def create_tasks(self, *, tasks: Sequence[Task]) -> list[WriteResult]:
        return self._writer.create_tasks(tasks)

    def record_opt_outs(self, *, opt_outs: Sequence[OptOut]) -> list[WriteResult]:
        return self._writer.record_opt_outs(opt_outs)
