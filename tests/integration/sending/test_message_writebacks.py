"""Many emails' CRM write-backs queued at once (`queue_message_writebacks`): the same rows,
keys and payloads as one `queue_message_writeback` per email, a campaign's name in the
payload, one multi-row INSERT per chunk, a repeat a no-op. On the test's real database
(SQLite here, PostgreSQL in the `-m database` pass)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, event, select

from connector.models import CrmWriteback, Message
from connector.runtime import Runtime
from connector.services.accounts import AccountView
from connector.services.writeback import (
    QUEUE_CHUNK,
    campaign_names,
    queue_message_writeback,
    queue_message_writebacks,
)
from tests.support.writebacks import sent_emails, writebacks

COLUMNS = ("account_id", "contact_id", "kind", "dedup_key", "payload", "status", "attempts",
           "next_attempt_at", "created_at")


def emails(rt: Runtime, account_id: int, count: int, *, campaign: str | None) -> list[int]:
    prefix = "c" if campaign else "f"
    return sent_emails(rt, account_id, [(None, f"{prefix}{n}@example.com") for n in range(count)],
                       campaign=campaign)


def outbox_rows(rt: Runtime) -> list[tuple[Any, ...]]:
    with rt.db.session() as session:
        rows = session.scalars(select(CrmWriteback).order_by(CrmWriteback.dedup_key)).all()
        return [tuple(getattr(r, c) for c in COLUMNS) for r in rows]


@pytest.fixture
def inserts(rt: Runtime) -> Iterator[list[str]]:
    """The INSERT statements into crm_writebacks the database receives."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO CRM_WRITEBACKS"):
            seen.append(statement)

    event.listen(rt.db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(rt.db.engine, "before_cursor_execute", record)


def test_the_batch_queues_the_rows_one_call_per_email_would(
    rt: Runtime, account: AccountView
) -> None:
    sale = emails(rt, account.id, 3, campaign="Spring sale sneak peek")
    welcome = emails(rt, account.id, 2, campaign=None)
    now = rt.clock.now()
    batch = (writebacks(rt, sale, "email_sent") + writebacks(rt, welcome, "email_sent")
             + writebacks(rt, sale[:1], "email_failed", text="550 mailbox unavailable"))

    with rt.db.session() as session:
        assert queue_message_writebacks(session, batch, now) == 6
    batched = outbox_rows(rt)
    with rt.db.session() as session:
        session.execute(delete(CrmWriteback))
    with rt.db.session() as session:
        for entry in batch:
            assert queue_message_writeback(session, entry.message, entry.kind, now,
                                           text=entry.text, campaign=entry.campaign)

    assert outbox_rows(rt) == batched
    payloads = {row[3]: row[4] for row in batched}
    first, flows = batch[0].message.public_id, batch[3].message.public_id
    assert payloads[f"email_sent:{first}"] == {
        "message": first, "subject": "Subject 0", "campaign": "Spring sale sneak peek",
        "occurred_at": now.isoformat()}
    assert payloads[f"email_failed:{first}"]["text"] == "550 mailbox unavailable"
    assert payloads[f"email_sent:{flows}"] == {  # a flow's email: as before, no campaign
        "message": flows, "subject": "Subject 0", "occurred_at": now.isoformat()}


def test_a_repeated_batch_queues_nothing_and_a_partly_new_one_only_the_new(
    rt: Runtime, account: AccountView
) -> None:
    sale = emails(rt, account.id, 4, campaign="Spring sale sneak peek")
    now = rt.clock.now()
    with rt.db.session() as session:
        assert queue_message_writebacks(session, writebacks(rt, sale[:2], "email_sent"), now) == 2
    before = outbox_rows(rt)

    later = now + timedelta(minutes=1)
    with rt.db.session() as session:  # a retried outcome recording
        assert queue_message_writebacks(session, writebacks(rt, sale[:2], "email_sent"),
                                        later) == 0
    assert outbox_rows(rt) == before  # the first rows stand, their time too
    with rt.db.session() as session:
        assert queue_message_writebacks(session, writebacks(rt, sale, "email_sent"), later) == 2
        assert queue_message_writebacks(session, [], later) == 0
    assert len(outbox_rows(rt)) == 4


def test_one_statement_per_chunk_of_rows(
    rt: Runtime, account: AccountView, inserts: list[str]
) -> None:
    count = 2 * QUEUE_CHUNK + 1
    sale = emails(rt, account.id, count, campaign="Spring sale sneak peek")
    batch = writebacks(rt, sale, "email_sent")
    inserts.clear()

    with rt.db.session() as session:
        assert queue_message_writebacks(session, batch, rt.clock.now()) == count

    assert len(inserts) == 3  # 500 + 500 + 1 rows, each a multi-row VALUES
    assert len(outbox_rows(rt)) == count


def test_campaign_names_are_the_campaigns_of_the_emails_and_none_for_a_flows(
    rt: Runtime, account: AccountView
) -> None:
    sale = emails(rt, account.id, 2, campaign="Spring sale sneak peek")
    welcome = emails(rt, account.id, 1, campaign=None)
    with rt.db.session() as session:
        messages = session.scalars(select(Message).where(
            Message.id.in_(sale + welcome))).all()
        run_id = next(m.campaign_id for m in messages if m.campaign_id)
        assert campaign_names(session, messages) == {run_id: "Spring sale sneak peek"}
        assert campaign_names(session, [m for m in messages if m.id in welcome]) == {}
