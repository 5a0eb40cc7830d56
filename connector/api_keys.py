"""API key -> account id, with a short in-process cache: the hot path of every ingest
request should not pay a database round trip to authenticate."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from connector.crypto import hash_api_key
from connector.db import Database
from connector.models import Account

# A revoked or rotated key keeps working at most this long in a running web process.
TTL_SECONDS = 60.0
MAX_ENTRIES = 10_000


class ApiKeyCache:
    def __init__(self, db: Database, ttl: float = TTL_SECONDS) -> None:
        self._db, self._ttl = db, ttl
        self._entries: dict[str, tuple[int | None, float]] = {}
        self._lock = threading.Lock()

    def account_id(self, key: str) -> int | None:
        """The account owning `key`; unknown keys are cached too (no DB hammering)."""
        digest = hash_api_key(key)
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(digest)
        if hit is not None and hit[1] > now:
            return hit[0]
        with self._db.session() as session:
            found = session.scalar(select(Account.id).where(Account.api_key_hash == digest))
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()  # crude, bounded; a flood of bad keys cannot grow it
            self._entries[digest] = (found, now + self._ttl)
        return found
