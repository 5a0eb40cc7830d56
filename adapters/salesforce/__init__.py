"""The Salesforce adapter's vendor facts the core needs by name. The adapter itself is
`adapters.salesforce.adapter.SalesforceCRM` (not imported here: this module stays light)."""

from __future__ import annotations

import re

OPT_OUT_PROPERTY = "HasOptedOutOfEmail"
# Salesforce ids come as 15 (case-sensitive) or 18 characters; org ids start with 00D.
_ORG_ID = re.compile(r"^00D[0-9A-Za-z]{12}([0-9A-Za-z]{3})?$")


def valid_org_id(value: str) -> bool:
    return bool(_ORG_ID.match(value))


__all__ = ["OPT_OUT_PROPERTY", "valid_org_id"]
