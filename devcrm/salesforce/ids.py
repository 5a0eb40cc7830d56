"""Salesforce-looking record ids: a 3-character key prefix per object, 15 characters
case-sensitive, plus the 3-character case-insensitive checksum of the 18-character form."""

from __future__ import annotations

import itertools
import threading

PREFIXES = {"Contact": "003", "Lead": "00Q", "Task": "00T", "Organization": "00D",
            "User": "005", "QueryLocator": "01g", "OutboundAction": "04k",
            "Notification": "04l"}
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def checksum(id15: str) -> str:
    """The 3 characters Salesforce appends: one per 5-character chunk, from its capitals."""
    out = ""
    for start in range(0, 15, 5):
        bits = sum(1 << i for i, ch in enumerate(id15[start:start + 5]) if ch.isupper())
        out += _CHECKSUM[bits]
    return out


def to18(record_id: str) -> str:
    return record_id if len(record_id) == 18 else record_id + checksum(record_id)


def _base62(n: int, width: int) -> str:
    digits = ""
    while n:
        n, rest = divmod(n, 62)
        digits = _ALPHABET[rest] + digits
    return digits.rjust(width, "0")


class IdMaker:
    """Fresh 18-character ids; a salt keeps two emulated orgs' ids apart."""

    def __init__(self, salt: int = 0) -> None:
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._pod = _base62(salt % (62 ** 2), 2)

    def new(self, kind: str) -> str:
        with self._lock:
            n = next(self._counter)
        return to18(PREFIXES[kind] + self._pod + "0" + _base62(n * 7919, 9))


def same_id(a: str, b: str) -> bool:
    """15- and 18-character forms of one id compare equal."""
    return a[:15] == b[:15]
