"""What a CRM webhook does not say. A creation carries only an id and a property change only
one value, so the events worker reads the rest from the CRM: the properties the account's
flows, segments and templates use, for every contact of a chunk of events at once (one
batch read per account per chunk: a burst of webhooks costs a few API calls, not one each).

The reads happen with no transaction open (a slow CRM holds no lock). An account whose CRM
cannot be read now (429, 5xx, a timeout) leaves its events pending for the sweep; one that
lost its credentials gets its events processed without effect.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from adapters.errors import CRMError, PermanentCRMError
from adapters.inbound import CONTACT_CHANGED, CONTACT_CREATED, CONTACT_MERGED, CONTACT_RESTORED
from adapters.port import CrmContact
from connector.models import Account, Contact, InboxEvent
from connector.workspaces.usage import properties_used

if TYPE_CHECKING:
    from connector.runtime import Runtime

log = logging.getLogger(__name__)

Key = tuple[int, str]  # (account id, CRM id)
# How soon events whose CRM could not be read are tried again, when it did not say.
RETRY_AFTER = 5.0
MAX_RETRY_AFTER = 60.0


@dataclass
class Fetched:
    """The CRM's records for one chunk of events."""

    records: dict[Key, CrmContact] = field(default_factory=dict)
    asked: set[Key] = field(default_factory=set)
    events: set[int] = field(default_factory=set)  # the inbox events it was read for
    just_read: bool = True  # not yet used by a chunk
    retry_later: set[int] = field(default_factory=set)  # accounts: events wait
    retry_after: float | None = None  # the longest wait a CRM asked for
    unavailable: dict[int, str] = field(default_factory=dict)  # account -> why: no effect

    def record(self, account_id: int, crm_id: str) -> CrmContact | None:
        return self.records.get((account_id, crm_id))

    def has(self, account_id: int, crm_id: str) -> bool:
        return (account_id, crm_id) in self.asked


NOTHING = Fetched(just_read=False)  # read for no event: a CRM event applied with it waits


def needs_record(event: InboxEvent, known: set[Key]) -> str | None:
    """The CRM id whose record applying `event` needs, if any."""
    data = event.payload
    if event.kind in (CONTACT_CREATED, CONTACT_RESTORED, CONTACT_MERGED):
        return str(data["crm_id"])
    if event.kind == CONTACT_CHANGED and "value" in data:
        crm_id = str(data["crm_id"])
        # A contact new to the mirror is read whole; a known one takes the value as sent.
        return None if (event.account_id, crm_id) in known else crm_id
    return None


def fetch_records(rt: Runtime, events: Iterable[InboxEvent]) -> Fetched:
    events = [e for e in events if e.kind.startswith("crm.")]
    fetched = Fetched(events={e.id for e in events})
    if not events:
        return fetched
    wanted: dict[int, set[str]] = defaultdict(set)
    with rt.db.session() as session:
        known = _known(session, events)
        for event in events:
            crm_id = needs_record(event, known)
            if crm_id is not None:
                wanted[event.account_id].add(crm_id)
        accounts = {
            a.id: a for a in session.scalars(select(Account).where(Account.id.in_(wanted)))
        }
        properties = {
            account_id: sorted(properties_used(rt.workspaces.live(session, account_id).workspace))
            for account_id in wanted
        }
        for account in accounts.values():
            session.expunge(account)
    for account_id, crm_ids in wanted.items():
        found = accounts.get(account_id)
        if found is None or found.status != "connected":
            fetched.unavailable[account_id] = "the account is not connected"
            continue
        try:
            records = rt.crm_for(found).get_contacts(
                crm_ids=sorted(crm_ids), properties=properties[account_id]
            )
        except PermanentCRMError as exc:
            log.warning("account %s: contacts not readable (%s); events without effect",
                        account_id, exc)
            fetched.unavailable[account_id] = str(exc)
            continue
        except CRMError as exc:
            log.warning("account %s: contacts not readable now (%s); events wait",
                        account_id, exc)
            fetched.retry_later.add(account_id)
            asked = getattr(exc, "retry_after", None) or RETRY_AFTER
            fetched.retry_after = max(fetched.retry_after or 0.0, asked)
            continue
        fetched.asked |= {(account_id, crm_id) for crm_id in crm_ids}
        for record in records:
            fetched.records[(account_id, record.crm_id)] = record
    return fetched


def _known(session: Session, events: list[InboxEvent]) -> set[Key]:
    """Which of the changed contacts the mirror already has (one query)."""
    keys = {
        (e.account_id, str(e.payload["crm_id"]))
        for e in events
        if e.kind == CONTACT_CHANGED and "crm_id" in e.payload
    }
    if not keys:
        return set()
    rows = session.execute(
        select(Contact.account_id, Contact.crm_id).where(
            tuple_(Contact.account_id, Contact.crm_id).in_(sorted(keys)),
            Contact.deleted_at.is_(None),
        )
    )
    return {(account_id, crm_id) for account_id, crm_id in rows if crm_id is not None}
