"""Salesforce record ids in their two forms: 15 characters (case-sensitive, what the UI
shows) and 18 (the API's, case-insensitive: a 3-character checksum of the letters' case
appended). Org ids match on the 15-character prefix, whichever form was given."""

from __future__ import annotations

import re

_ID = re.compile(r"^[0-9A-Za-z]{15}([0-9A-Za-z]{3})?$")
# Salesforce's suffix alphabet: one character per 5-bit case mask.
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def checksum(id15: str) -> str:
    """The 3 characters that make `id15` an 18-character id: for each 5-character chunk,
    bit i is set when its i-th character is an uppercase letter."""
    if len(id15) != 15:
        raise ValueError("a checksum is of a 15-character id")
    suffix = ""
    for start in range(0, 15, 5):
        mask = sum(1 << i for i, c in enumerate(id15[start:start + 5]) if "A" <= c <= "Z")
        suffix += _SUFFIX[mask]
    return suffix


def is_id(value: object) -> bool:
    """A 15-character id, or an 18-character one whose suffix is its checksum."""
    if not isinstance(value, str) or not _ID.match(value):
        return False
    return len(value) == 15 or value[15:].upper() == checksum(value[:15])


def to_15(value: str) -> str:
    return value[:15]


def to_18(value: str) -> str:
    """The 18-character form of a 15- or 18-character id (the suffix recomputed)."""
    return value[:15] + checksum(value[:15])


def both_forms(value: str) -> set[str]:
    """The 15- and 18-character forms of an id, as `Account.external_id` may hold either."""
    return {to_15(value), to_18(value)}


def same_id(a: str, b: str) -> bool:
    return len(a) >= 15 and len(b) >= 15 and a[:15] == b[:15]
