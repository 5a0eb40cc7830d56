"""What a CRM's webhook says, in the core's words: one `CrmEvent` per understood event
(HubSpot's normalizer builds them; Salesforce's will), or the reason it was set aside.

The kinds are the contract with the processing code: it switches on exactly these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

CONTACT_CREATED = "crm.contact.created"  # data {"crm_id"}
# data {"crm_id", "property", "value"}; a value the CRM hid: {"crm_id", "property",
# "redacted": True} and no "value" (a hidden value must never be stored as a real one).
CONTACT_CHANGED = "crm.contact.changed"
CONTACT_MERGED = "crm.contact.merged"  # data {"crm_id": winner, "merged": [loser ids]}
# data {"crm_id", "privacy"}: a privacy (GDPR) deletion arrives with a plain one too.
CONTACT_DELETED = "crm.contact.deleted"
CONTACT_RESTORED = "crm.contact.restored"  # data {"crm_id"}
# A sync's read of a contact, the record inline (data: connector.services.crm_events
# record_data): a reconciliation's heals a missed webhook, so it starts flows as the
# webhook would have; a backfill's only fills the mirror and segments.
CONTACT_SYNCED = "crm.contact.synced"
CONTACT_IMPORTED = "crm.contact.imported"

KINDS = frozenset(
    {CONTACT_CREATED, CONTACT_CHANGED, CONTACT_MERGED, CONTACT_DELETED, CONTACT_RESTORED,
     CONTACT_SYNCED, CONTACT_IMPORTED}
)

DEDUP_KEY_MAX = 64


@dataclass(frozen=True)
class CrmEvent:
    """One understood CRM event: whose it is (`portal`: the CRM's account id, as
    `Account.external_id` holds it), what happened (`kind`, `data`), when, and the key it
    is deduplicated on (at most 64 characters)."""

    portal: str
    kind: str
    dedup_key: str
    occurred_at: datetime  # aware, UTC
    data: dict[str, Any]


@dataclass(frozen=True)
class Ignored:
    """A well-formed event we answer 2xx to and do nothing with (another object's, an
    association change, a type we do not know)."""

    portal: str | None
    type: str
    reason: str


@dataclass(frozen=True)
class Malformed:
    """An event that is not what the CRM sends (a field missing or of the wrong type)."""

    reason: str


Normalized = CrmEvent | Ignored | Malformed
