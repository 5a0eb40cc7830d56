"""HubSpot's creates have no idempotency key: the adapter never sends a create again after
it went unanswered, and looks on the contact's timeline (associations, then the emails'
headers) for what may have landed before creating it again. Against the emulator over
real sockets, checked in what landed in the portal and which requests were made."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from adapters.errors import RetryableCRMError
from adapters.hubspot.adapter import HubSpotCRM
from adapters.port import EmailActivity, Task
from connector.runtime import Runtime
from devcrm.hubspot import HubSpotEmulator, Portal
from tests.contract.conftest import hubspot_adapter
from tests.support.processes import wait_until

CREATE = "/crm/v3/objects/emails/batch/create"
ASSOCIATIONS = "/crm/v4/associations/contacts/emails/batch/read"
READ = "/crm/v3/objects/emails/batch/read"
TIMEOUT = 0.4
FAST: dict[str, Any] = {"backoff": 0.01, "timeout": TIMEOUT}


@pytest.fixture
def emu() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(client_id="idem-cid", client_secret="idem-secret") as emulator:
        yield emulator


def _adapter(rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator, **config: Any
             ) -> tuple[Portal, HubSpotCRM]:
    return hubspot_adapter(rt, redis_conn, emu, **{**FAST, **config})


def _sent(writeback_id: int, crm_id: str, *, maybe_written: bool = False) -> EmailActivity:
    return EmailActivity(writeback_id=writeback_id, kind="email_sent", contact_crm_id=crm_id,
                         email="x@example.com", subject="Welcome", text="Hello",
                         occurred_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
                         message_id=f"msg-{writeback_id}", maybe_written=maybe_written)


def _calls(emu: HubSpotEmulator, path: str) -> list[int]:
    return [status for _, p, status, _ in emu.requests if p == path]


def _ours(portal: Portal) -> dict[int, list[str]]:
    """The portal's email engagements by the write-back id in their headers."""
    found: dict[int, list[str]] = {}
    for record in portal.emails.values():
        headers = json.loads(record["properties"]["hs_email_headers"])
        if "writebackId" in headers:
            found.setdefault(int(headers["writebackId"]), []).append(record["id"])
    return found


def test_a_create_answered_after_the_timeout_is_found_not_sent_again(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    portal, crm = _adapter(rt, redis_conn, emu)
    contacts = [portal.create_contact({"email": f"c{i}@example.com"}) for i in range(3)]
    # HubSpot holds the batch past our timeout, then carries it out.
    emu.faults.add(delay=TIMEOUT * 3, count=1, path_prefix=CREATE)
    results = crm.write_activities(activities=[_sent(i, c) for i, c in enumerate(contacts)])
    assert _calls(emu, CREATE) == [201]  # sent once (the log has it once it was answered)
    landed = _ours(portal)
    assert {i: len(ids) for i, ids in landed.items()} == {0: 1, 1: 1, 2: 1}
    assert [(r.ok, r.record_id) for r in results] == [(True, landed[i][0]) for i in range(3)]
    # One associations read per look, the emails read once they appeared.
    assert len(_calls(emu, ASSOCIATIONS)) >= 1 and _calls(emu, READ) == [200]


def test_a_create_lost_before_hubspot_took_it_is_handed_back_then_created_once(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    portal, crm = _adapter(rt, redis_conn, emu)
    ann = portal.create_contact({"email": "ann@example.com"})
    # No answer within the timeout, and HubSpot never carried it out.
    emu.faults.add(status=503, delay=TIMEOUT * 2, count=1, path_prefix=CREATE)
    (result,) = crm.write_activities(activities=[_sent(7, ann)])
    assert not result.ok and result.retryable and "no answer" in str(result.error)
    assert portal.emails == {} and _calls(emu, CREATE) == [503]
    assert len(_calls(emu, ASSOCIATIONS)) == 3  # one per look (unanswered_looks)

    # The outbox retries the row: it may have been written, so it is looked for first.
    (retried,) = crm.write_activities(activities=[_sent(7, ann, maybe_written=True)])
    assert retried.ok and _calls(emu, CREATE) == [503, 201]
    assert _ours(portal) == {7: [retried.record_id]}


def test_a_maybe_written_activity_whose_engagement_exists_is_matched_not_recreated(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    portal, crm = _adapter(rt, redis_conn, emu)
    ann = portal.create_contact({"email": "ann@example.com"})
    bob = portal.create_contact({"email": "bob@example.com"})
    first = crm.write_activities(activities=[_sent(1, ann), _sent(2, bob)])
    portal.create_engagement("emails", {"hs_email_headers": "{}", "hs_email_subject": "rep"},
                             [ann])  # not ours: no write-back id
    before = len(emu.requests)

    again = crm.write_activities(activities=[
        _sent(1, ann, maybe_written=True), _sent(2, bob, maybe_written=True),
        _sent(3, ann, maybe_written=True), _sent(4, bob)])
    assert [(r.ok, r.record_id) for r in again[:2]] == [(True, r.record_id) for r in first]
    assert all(r.ok for r in again[2:])
    assert {i: len(ids) for i, ids in _ours(portal).items()} == {1: 1, 2: 1, 3: 1, 4: 1}
    # The cost of looking: one associations read for both contacts, one read of their
    # three emails; then one create for the two that did not exist.
    assert [(m, p) for m, p, _, _ in emu.requests[before:]] == [
        ("POST", ASSOCIATIONS), ("POST", READ), ("POST", CREATE)]


def test_a_look_matches_on_the_message_id_too(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    """Another connector database writing to the same portal reuses write-back ids."""
    portal, crm = _adapter(rt, redis_conn, emu)
    ann = portal.create_contact({"email": "ann@example.com"})
    headers = {"writebackId": 5, "messageId": "msg-of-another-install"}
    portal.create_engagement("emails", {"hs_email_headers": json.dumps(headers)}, [ann])
    (result,) = crm.write_activities(activities=[_sent(5, ann, maybe_written=True)])
    assert result.ok and len(_ours(portal)[5]) == 2 and _calls(emu, CREATE) == [201]


def test_a_contact_with_more_than_a_page_of_emails_is_read_through(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    portal, crm = _adapter(rt, redis_conn, emu)
    ann = portal.create_contact({"email": "ann@example.com"})
    for _ in range(520):  # logged by reps: more than a page of associations (500)
        portal.create_engagement("emails", {"hs_email_headers": "{}"}, [ann])
    (first,) = crm.write_activities(activities=[_sent(9, ann)])
    before = len(emu.requests)
    (again,) = crm.write_activities(activities=[_sent(9, ann, maybe_written=True)])
    assert again.ok and again.record_id == first.record_id
    paths = [p for _, p, _, _ in emu.requests[before:]]
    assert paths == [ASSOCIATIONS, ASSOCIATIONS] + [READ] * 6  # 521 emails, 100 a read


def test_an_unanswered_task_create_is_handed_back_not_sent_again(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    portal, crm = _adapter(rt, redis_conn, emu)
    ann = portal.create_contact({"email": "ann@example.com"})
    emu.faults.add(delay=TIMEOUT * 3, count=1, path_prefix="/crm/v3/objects/tasks/batch/create")
    (result,) = crm.create_tasks(tasks=[Task(1, ann, "ann@example.com", "Call", "", None)])
    assert not result.ok and result.retryable and "no answer" in str(result.error)
    wait_until(lambda: len(portal.tasks) > 0, timeout=10, what="the held create landed")
    time.sleep(TIMEOUT)  # room for a second create, were one sent
    assert len(portal.tasks) == 1
    assert [r[2] for r in emu.requests if r[1] == "/crm/v3/objects/tasks/batch/create"] == [201]


def test_a_504_on_a_create_counts_as_unanswered(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    """A gateway gave up waiting on HubSpot, which may still carry the create out."""
    portal, crm = _adapter(rt, redis_conn, emu, unanswered_looks=(0.1,))
    ann = portal.create_contact({"email": "ann@example.com"})
    emu.faults.add(status=504, count=1, path_prefix=CREATE)
    (result,) = crm.write_activities(activities=[_sent(1, ann)])
    assert not result.ok and result.retryable and "504" in str(result.error)
    assert _calls(emu, CREATE) == [504] and len(_calls(emu, ASSOCIATIONS)) == 1


def test_429s_and_503s_on_a_create_are_still_retried_in_call(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    """HubSpot did not carry those out: sending again cannot write twice."""
    portal, crm = _adapter(rt, redis_conn, emu)
    ann = portal.create_contact({"email": "ann@example.com"})
    emu.faults.add(status=429, count=1, path_prefix=CREATE)
    emu.faults.add(status=503, count=1, path_prefix=CREATE)
    (result,) = crm.write_activities(activities=[_sent(1, ann)])
    assert result.ok and _calls(emu, CREATE) == [429, 503, 201]
    assert _calls(emu, ASSOCIATIONS) == []


def test_reads_before_the_create_still_time_out_and_retry(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    """Reads are idempotent: the contact's lookup by email is retried, then raises."""
    portal, crm = _adapter(rt, redis_conn, emu, retries=1)
    portal.create_contact({"email": "ann@example.com"})
    emu.faults.add(delay=TIMEOUT * 3, count=2)
    activity = EmailActivity(writeback_id=1, kind="email_sent", contact_crm_id=None,
                             email="ann@example.com", subject="Welcome", text="Hello",
                             occurred_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
                             message_id="msg-1")
    with pytest.raises(RetryableCRMError, match="no answer"):
        crm.write_activities(activities=[activity])
    assert _calls(emu, CREATE) == [] and portal.emails == {}
