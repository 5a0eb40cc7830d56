"""The Salesforce adapter's vendor facts the core needs by name. The adapter itself is
`adapters.salesforce.adapter.SalesforceCRM` (not imported here: this module stays light)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OPT_OUT_PROPERTY = "HasOptedOutOfEmail"
# The mirror keeps Salesforce's field names lower-cased (fields.py).
MIRROR_OPT_OUT_PROPERTY = OPT_OUT_PROPERTY.lower()
BOUNCED_PROPERTY = "IsEmailBounced"
# A converted Lead: IsConverted, and the Contact it became.
CONVERTED, CONVERTED_CONTACT = "IsConverted", "ConvertedContactId"
# Salesforce ids come as 15 (case-sensitive) or 18 characters; org ids start with 00D.
_ORG_ID = re.compile(r"^00D[0-9A-Za-z]{12}([0-9A-Za-z]{3})?$")


def valid_org_id(value: str) -> bool:
    return bool(_ORG_ID.match(value))


@dataclass(frozen=True)
class PersonFlags:
    opted_out: bool
    bounced: bool
    converted_to: str | None  # a converted Lead's Contact id


def person_flags(fields: Mapping[str, Any]) -> PersonFlags:
    """The flags of a Contact or Lead, from the REST API's JSON (booleans) or an Outbound
    Message's text ("true")."""
    contact = fields.get(CONVERTED_CONTACT)
    converted = _true(fields.get(CONVERTED)) and bool(contact)
    return PersonFlags(opted_out=_true(fields.get(OPT_OUT_PROPERTY)),
                       bounced=_true(fields.get(BOUNCED_PROPERTY)),
                       converted_to=str(contact) if converted else None)


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


__all__ = ["BOUNCED_PROPERTY", "CONVERTED", "CONVERTED_CONTACT", "MIRROR_OPT_OUT_PROPERTY",
           "OPT_OUT_PROPERTY",
           "PersonFlags", "person_flags", "valid_org_id"]
