"""Leases: any number of concurrent claimers get disjoint due enrollments, and a lease a
dead worker never released expires."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from connector.db import Database
from connector.models import Account, Contact, Enrollment, FlowVersion
from connector.services.leases import LEASE, claim

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def seed(db: Database, due: int, later: int) -> None:
    with db.session() as session:
        account = Account(provider="local", external_id="x", api_key_hash="h",
                          api_key_encrypted=b"k", created_at=NOW)
        session.add(account)
        session.flush()
        contact = Contact(account_id=account.id, email="c@example.com", properties={},
                          created_at=NOW, updated_at=NOW)
        version = FlowVersion(account_id=account.id, flow_key="f", version="v", definition={},
                              created_at=NOW)
        session.add_all([contact, version])
        session.flush()
        rows = [
            {"account_id": account.id, "contact_id": contact.id, "flow_key": "f",
             "flow_version_id": version.id, "entry_key": f"e{n}", "state": "active",
             "cursor": 0, "context": {}, "entered_at": NOW,
             "next_run_at": NOW - timedelta(minutes=n) if n < due else NOW + timedelta(days=1)}
            for n in range(due + later)
        ]
        session.execute(insert(Enrollment), rows)


def test_concurrent_claimers_never_share_an_enrollment(db: Database) -> None:
    seed(db, due=300, later=100)
    claimed: list[list[int]] = [[] for _ in range(4)]
    start = threading.Barrier(len(claimed))

    def claimer(mine: list[int]) -> None:
        start.wait()
        while True:
            _, ids = claim(db, NOW, limit=25)
            if not ids:
                return
            mine.extend(ids)

    threads = [threading.Thread(target=claimer, args=(mine,)) for mine in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    everything = [i for mine in claimed for i in mine]
    assert len(everything) == len(set(everything)) == 300  # all due, none twice


def test_an_unreleased_lease_expires(db: Database) -> None:
    seed(db, due=5, later=0)
    _, first = claim(db, NOW)
    assert len(first) == 5
    assert claim(db, NOW + timedelta(minutes=1))[1] == []  # still leased
    assert claim(db, NOW + LEASE + timedelta(seconds=1))[1] == first  # the worker died
