"""An in-memory CRM: the fake at the process edge for tests and the demo. It holds
contacts (seeded with `add_contact`), answers the read side like a CRM (pages, changes in
order, a log of deletions read back as Salesforce's is), and keeps every write per
contact, in order.

By default a write about a contact it does not hold is kept under the contact's email
(the core's tests write for contacts they never seeded); `known_contacts_only=True` makes
it fail those inputs as a real CRM does.
"""

from __future__ import annotations

import itertools
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from adapters.port import (
    ContactPage,
    CrmContact,
    DeletedRecord,
    DeletedRecords,
    EmailActivity,
    EngagementSummary,
    OptOut,
    PropertyUpdate,
    Task,
    WriteResult,
)

PAGE_SIZE = 100

Write = EmailActivity | EngagementSummary | PropertyUpdate | Task | OptOut


@dataclass
class _Contact:
    crm_id: str
    email: str | None
    properties: dict[str, Any]
    opted_out: bool
    updated_at: datetime
    created_at: datetime
    order: int = field(default=0)


class InMemoryCRM:
    provider = "memory"

    def __init__(self, *, clock: Callable[[], datetime] | None = None,
                 known_contacts_only: bool = False, page_size: int = PAGE_SIZE) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))
        self._known_only = known_contacts_only
        self._page_size = page_size
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._record_ids = itertools.count(1)
        self.contacts: dict[str, _Contact] = {}
        self.deletions: list[DeletedRecord] = []  # oldest first
        # Keyed by the contact's CRM id (or its email when the CRM does not hold it).
        self.writes: dict[str, list[Write]] = defaultdict(list)
        self.timeline: dict[str, list[EmailActivity]] = defaultdict(list)
        self.properties: dict[str, dict[str, Any]] = {}
        self.engagement: dict[str, EngagementSummary] = {}
        self.tasks: list[Task] = []
        self.opt_outs: list[OptOut] = []
        self.prepared = 0
        self._records: dict[str, tuple[str, int]] = {}  # record id -> (contact, index)

    # ---- seeding and the read side ------------------------------------------------------

    def add_contact(self, email: str | None, properties: dict[str, Any] | None = None, *,
                    opted_out: bool = False) -> str:
        """Hold a contact (as if created in the CRM); returns its CRM id."""
        with self._lock:
            crm_id = str(next(self._ids))
            now = self._clock()
            self.contacts[crm_id] = _Contact(crm_id, email, dict(properties or {}), opted_out,
                                             now, now, order=int(crm_id))
        return crm_id

    def update_contact(self, crm_id: str, properties: dict[str, Any]) -> None:
        """Change a held contact as a CRM user would (it shows in `changed_since`)."""
        with self._lock:
            contact = self.contacts[crm_id]
            contact.properties.update(properties)
            contact.updated_at = self._clock()

    def delete_contact(self, crm_id: str) -> None:
        """Delete a held contact as a CRM user would (it shows in `deleted_since`)."""
        with self._lock:
            del self.contacts[crm_id]
            self.deletions.append(DeletedRecord(crm_id, self._clock()))

    def get_contacts(self, *, crm_ids: Sequence[str], properties: Sequence[str]
                     ) -> list[CrmContact]:
        with self._lock:
            held = [self.contacts[i] for i in dict.fromkeys(crm_ids) if i in self.contacts]
            return [self._view(c, properties) for c in held]

    def list_contacts(self, *, properties: Sequence[str], after: str | None = None
                      ) -> ContactPage:
        with self._lock:
            ordered = sorted(self.contacts.values(), key=lambda c: c.order)
            return self._page(ordered, properties, after)

    def changed_since(self, *, since: datetime, properties: Sequence[str],
                      after: str | None = None) -> ContactPage:
        with self._lock:
            changed = sorted((c for c in self.contacts.values() if c.updated_at > since),
                             key=lambda c: (c.updated_at, c.order))
            return self._page(changed, properties, after)

    def deleted_since(self, *, since: datetime) -> DeletedRecords:
        """Every deletion after `since` (the log keeps them all), covered up to now."""
        if since.tzinfo is None:
            raise ValueError("deleted_since needs a timezone-aware datetime")
        with self._lock:
            return DeletedRecords([d for d in self.deletions if d.deleted_at > since],
                                  covered_through=self._clock())

    def _page(self, contacts: list[_Contact], properties: Sequence[str], after: str | None
              ) -> ContactPage:
        start = int(after or 0)
        chunk = contacts[start:start + self._page_size]
        end = start + len(chunk)
        return ContactPage([self._view(c, properties) for c in chunk],
                           after=str(end) if end < len(contacts) else None,
                           total=len(contacts))

    @staticmethod
    def _view(contact: _Contact, properties: Sequence[str]) -> CrmContact:
        values = {k: contact.properties[k] for k in properties if k in contact.properties}
        return CrmContact(contact.crm_id, contact.email, values, contact.opted_out,
                          contact.updated_at, contact.created_at)

    # ---- the write side -----------------------------------------------------------------

    def prepare(self) -> None:
        with self._lock:
            self.prepared += 1

    def write_activities(self, *, activities: Sequence[EmailActivity]) -> list[WriteResult]:
        with self._lock:
            return [self._write_activity(a) for a in activities]

    def _write_activity(self, activity: EmailActivity) -> WriteResult:
        key = self._resolve(activity.contact_crm_id, activity.email)
        if key is None:
            return _unknown(activity)
        self.writes[key].append(activity)
        if activity.record_id is not None:
            if activity.record_id not in self._records:
                return WriteResult(activity.writeback_id, ok=False,
                                   error=f"no email record {activity.record_id}")
            owner, index = self._records[activity.record_id]
            earlier = self.timeline[owner][index]
            self.timeline[owner][index] = replace(earlier, kind=activity.kind,
                                                  record_id=activity.record_id)
            return WriteResult(activity.writeback_id, ok=True, record_id=activity.record_id)
        record_id = f"email-{next(self._record_ids)}"
        self._records[record_id] = (key, len(self.timeline[key]))
        self.timeline[key].append(replace(activity, record_id=record_id))
        return WriteResult(activity.writeback_id, ok=True, record_id=record_id)

    def write_engagement(self, *, summaries: Sequence[EngagementSummary]) -> list[WriteResult]:
        with self._lock:
            results = []
            for summary in summaries:
                key = self._resolve(summary.contact_crm_id, summary.email)
                if key is None:
                    results.append(_unknown(summary))
                    continue
                self.writes[key].append(summary)
                self.engagement[key] = summary
                results.append(WriteResult(summary.writeback_id, ok=True))
            return results

    def update_properties(self, *, updates: Sequence[PropertyUpdate]) -> list[WriteResult]:
        with self._lock:
            results = []
            for update in updates:
                key = self._resolve(update.contact_crm_id, update.email)
                if key is None:
                    results.append(_unknown(update))
                    continue
                self.writes[key].append(update)
                self.properties.setdefault(key, {}).update(update.properties)
                if key in self.contacts:
                    self.contacts[key].properties.update(update.properties)
                    self.contacts[key].updated_at = self._clock()
                results.append(WriteResult(update.writeback_id, ok=True))
            return results

    def create_tasks(self, *, tasks: Sequence[Task]) -> list[WriteResult]:
        with self._lock:
            results = []
            for task in tasks:
                key = self._resolve(task.contact_crm_id, task.email)
                if key is None:
                    results.append(_unknown(task))
                    continue
                self.writes[key].append(task)
                self.tasks.append(task)
                results.append(WriteResult(task.writeback_id, ok=True,
                                           record_id=f"task-{next(self._record_ids)}"))
            return results

    def record_opt_outs(self, *, opt_outs: Sequence[OptOut]) -> list[WriteResult]:
        with self._lock:
            results = []
            for opt_out in opt_outs:
                key = self._resolve(opt_out.contact_crm_id, opt_out.email)
                if key is None:
                    results.append(_unknown(opt_out))
                    continue
                self.writes[key].append(opt_out)
                self.opt_outs.append(opt_out)
                if key in self.contacts:
                    self.contacts[key].opted_out = True
                    self.contacts[key].updated_at = self._clock()
                results.append(WriteResult(opt_out.writeback_id, ok=True))
            return results

    def _resolve(self, crm_id: str | None, email: str) -> str | None:
        """The key a write lands under: the held contact, by id or else by email."""
        if crm_id is not None and (crm_id in self.contacts or not self._known_only):
            return crm_id
        if crm_id is None:
            wanted = email.strip().lower()
            for contact in self.contacts.values():
                if contact.email is not None and contact.email.lower() == wanted:
                    return contact.crm_id
            if not self._known_only:
                return email
        return None


def _unknown(write: Write) -> WriteResult:
    contact = write.contact_crm_id or write.email
    return WriteResult(write.writeback_id, ok=False, error=f"no contact {contact} in the CRM")
