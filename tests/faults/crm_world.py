"""What the CRM worlds of the fault tests share (hubspot_world.py, salesforce_world.py): the
connector's database and Redis seen from the test through a Runtime of its own, the
environment its `connector worker` / `connector serve` subprocesses get, write-backs
queued for contacts the emulated CRM knows, and what the rows, the accounts, the emulator's
request log and the outbox of sent mail say."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import func, select, update

from connector.clock import SystemClock
from connector.models import Account, CrmWriteback
from connector.runtime import Runtime, build_runtime
from connector.services.contacts import upsert_contact
from connector.services.writeback import queue_writeback
from connector.settings import load_settings

# What the runtime of the test process reads from a subprocess's environment.
SHARED = ("APP_ENV", "DATABASE_URL", "REDIS_URL", "VAR_DIR", "MAIL_URL", "SECRET_KEY",
          "ENCRYPTION_KEYS", "FLOWS_DIR", "TEMPLATES_DIR", "SEGMENTS_DIR", "PUBLIC_BASE_URL",
          "HUBSPOT_API_BASE", "HUBSPOT_CLIENT_ID", "HUBSPOT_CLIENT_SECRET",
          "SALESFORCE_LOGIN_URL", "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET",
          "SALESFORCE_API_SHARE")


class Emulator(Protocol):
    """An emulated CRM: it logs each request it answered as (method, path, status, tenant)."""

    @property
    def requests(self) -> Sequence[tuple[str, str, int, Any]]: ...


E = TypeVar("E", bound=Emulator)


@dataclass
class CrmWorld(Generic[E]):
    emu: E
    rt: Runtime  # the test's view of the connector's database and Redis
    env: dict[str, str]  # for the connector's subprocesses

    def queue_sent_to(self, account_id: int, people: Sequence[tuple[str, str]], *,
                      tag: str) -> list[str]:
        """Mirror each (email, CRM id) in our database and queue an email_sent write-back
        for it; their message ids (`tag-n`)."""
        ids: list[str] = []
        now = self.rt.clock.now()
        with self.rt.db.session() as session:
            for n, (email, crm_id) in enumerate(people):
                contact = upsert_contact(session, account_id, email=email, crm_id=crm_id,
                                         properties={}, now=now).contact
                session.flush()
                message = f"{tag}-{n}"
                queue_writeback(session, account_id=account_id, contact_id=contact.id,
                                kind="email_sent", dedup_key=f"email_sent:{message}",
                                payload={"message": message, "subject": f"Subject {message}",
                                         "text": f"Hello {n}"}, now=now)
                ids.append(message)
        return ids

    def statuses(self, account_id: int | None = None) -> dict[str, int]:
        """How many write-backs are in each status."""
        query = select(CrmWriteback.status, func.count()).group_by(CrmWriteback.status)
        if account_id is not None:
            query = query.where(CrmWriteback.account_id == account_id)
        with self.rt.db.session() as session:
            return {status: count for status, count in session.execute(query)}

    def account_status(self, account_id: int) -> str:
        with self.rt.db.session() as session:
            return session.get_one(Account, account_id).status

    def external_id(self, account_id: int) -> str:
        with self.rt.db.session() as session:
            return session.get_one(Account, account_id).external_id

    def claims_run_out(self, now: datetime) -> int:
        """Stand in for a claim's two minutes (or a backoff) passing: pending rows waiting
        for a later time become due now."""
        with self.rt.db.session() as session:
            result: Any = session.execute(
                update(CrmWriteback)
                .where(CrmWriteback.status == "pending", CrmWriteback.next_attempt_at > now)
                .values(next_attempt_at=now))
            return int(result.rowcount)

    def requests(self, method: str, path: str, status: int | None = None) -> int:
        """How many requests the emulator answered for `method path*` (with `status`)."""
        return sum(1 for m, p, s, _ in list(self.emu.requests)
                   if m == method and p.startswith(path) and status in (None, s))


def emails_to(outbox: Path) -> Counter[str]:
    """How many emails each address received (the files of MAIL_URL=outbox://...)."""
    found: Counter[str] = Counter()
    for path in outbox.glob("*.eml"):
        for line in path.read_text(errors="replace").splitlines():
            if line.lower().startswith("to:"):
                found[line.split(":", 1)[1].strip()] += 1
                break
    return found


def runtime_for(env: dict[str, str]) -> Runtime:
    """A runtime on what a subprocess with `env` uses (system clock, as theirs)."""
    settings = load_settings(**{k: env[k] for k in SHARED if k in env})
    return build_runtime(settings, redis_url=env["REDIS_URL"], clock=SystemClock())


@contextmanager
def runtime_open(env: dict[str, str]) -> Iterator[Runtime]:
    """`runtime_for(env)`, closed at the end."""
    rt = runtime_for(env)
    try:
        yield rt
    finally:
        rt.close()
