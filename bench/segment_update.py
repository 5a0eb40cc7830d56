"""Per-contact segment membership update, end to end: load the contact's facts, evaluate
every shipped segment, write entered/left/recheck rows, in one transaction.

Baseline, measured side by side: the same transaction doing only the facts load, so the
ratio is what segment maintenance adds on top of reading the contact. The last line is
`ratio=<update median / facts-only median>`.

    python bench/segment_update.py [--contacts 300] [--events 100] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.fernet import Fernet
from redis import Redis

from connector.clock import VirtualClock
from connector.db import Database
from connector.local.redis_embedded import EmbeddedRedis
from connector.migrate import upgrade
from connector.models import Contact, ContactEvent
from connector.runtime import Runtime
from connector.services.accounts import connect_account
from connector.services.facts import facts_for
from connector.services.reactions import update_segments
from connector.settings import load_settings
from connector.workspaces import deploy_default

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def build(home: Path, redis_url: str, contacts: int, events: int) -> tuple[Runtime, list[int]]:
    url = f"sqlite:///{home / 'bench.sqlite3'}"
    upgrade(url)
    settings = load_settings(
        APP_ENV="test", VAR_DIR=home / "var", DATABASE_URL=url, FLOWS_DIR=ROOT / "flows",
        TEMPLATES_DIR=ROOT / "templates", SEGMENTS_DIR=ROOT / "segments",
        MAIL_URL=f"outbox://{home / 'outbox'}", SECRET_KEY="bench",
        ENCRYPTION_KEYS=Fernet.generate_key().decode(),
    )
    rt = Runtime(settings=settings, db=Database(url), redis=Redis.from_url(redis_url),
                 clock=VirtualClock(NOW))
    with rt.db.session() as session:
        account, _ = connect_account(session, rt.vault, provider="hubspot", external_id="1",
                                     access_token="t",
                                     name=None, now=NOW)
    deploy_default(rt.db, settings, account.id, NOW)
    with rt.db.session() as session:
        ids = []
        for n in range(contacts):
            contact = Contact(account_id=account.id, email=f"c{n}@example.com",
                              properties={"lifecyclestage": "customer" if n % 3 else "lead"},
                              created_at=NOW, updated_at=NOW)
            session.add(contact)
            session.flush()
            ids.append(contact.id)
            session.add_all(
                ContactEvent(account_id=account.id, contact_id=contact.id,
                             name=("order.completed", "product.viewed")[k % 2],
                             occurred_at=NOW - timedelta(hours=7 * k), properties={"k": k})
                for k in range(events)
            )
    return rt, ids


def measure(rt: Runtime, ids: list[int], *, segments: bool) -> float:
    """Median seconds per contact."""
    samples = []
    for contact_id in ids:
        started = time.perf_counter()
        with rt.db.session() as session:
            contact = session.get_one(Contact, contact_id)
            facts = facts_for(rt, session, contact, NOW)
            if segments:
                update_segments(rt.workspaces.live(session, contact.account_id), session,
                                contact, facts, NOW)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=300)
    parser.add_argument("--events", type=int, default=100, help="history per contact")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crmdrip-segbench-") as tmp:
        home = Path(tmp)
        with EmbeddedRedis(home / "redis") as redis_server:
            rt, ids = build(home, redis_server.url, args.contacts, args.events)
            with rt.db.session() as session:
                segments = rt.workspaces.live(session, 1).workspace.segments
            print(f"{len(segments)} segments, {len(ids)} contacts, {args.events} events each")
            base, full = [], []
            for round_ in range(1, args.rounds + 1):
                base.append(measure(rt, ids, segments=False))
                full.append(measure(rt, ids, segments=True))
                print(f"round {round_}: facts only {base[-1] * 1e3:.3f} ms, "
                      f"facts + segment update {full[-1] * 1e3:.3f} ms per contact")
            rt.db.dispose()
            rt.redis.close()
    b, f = statistics.median(base), statistics.median(full)
    print(f"median per contact: facts only {b * 1e3:.3f} ms; with segment update "
          f"{f * 1e3:.3f} ms; the update itself {max(f - b, 0) * 1e3:.3f} ms")
    print(f"ratio={f / b:.2f}")


if __name__ == "__main__":
    main()
