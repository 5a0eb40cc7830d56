"""The CRM port's contract, run over every implementation (tests/contract/conftest.py):
what the core may rely on whichever CRM an account uses."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from adapters.port import (
    EmailActivity,
    EngagementSummary,
    OptOut,
    PropertyUpdate,
    Task,
)
from tests.contract.conftest import Backend

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _sent(writeback_id: int, crm_id: str | None, email: str, subject: str = "Welcome",
          **kwargs: object) -> EmailActivity:
    values: dict[str, object] = {"kind": "email_sent", "text": f"Hello {email}",
                                 "occurred_at": NOW, "message_id": f"msg-{writeback_id}"}
    values.update(kwargs)
    return EmailActivity(writeback_id=writeback_id, contact_crm_id=crm_id, email=email,
                         subject=subject, **values)  # type: ignore[arg-type]


# ---- reads --------------------------------------------------------------------------------


def test_get_contacts_batches_any_number_of_ids_and_leaves_out_missing_ones(
    backend: Backend,
) -> None:
    ids = [backend.seed(f"c{i}@example.com", {"firstname": f"C{i}"}) for i in range(130)]
    found = backend.crm.get_contacts(crm_ids=[*ids, "987654321"], properties=["firstname"])
    assert sorted(c.crm_id for c in found) == sorted(ids)
    by_id = {c.crm_id: c for c in found}
    assert by_id[ids[7]].email == "c7@example.com"
    assert by_id[ids[7]].properties["firstname"] == "C7"
    assert by_id[ids[7]].opted_out is False
    assert by_id[ids[7]].updated_at is not None


def test_list_contacts_pages_to_the_end(backend: Backend) -> None:
    ids = {backend.seed(f"l{i}@example.com") for i in range(130)}
    seen: list[str] = []
    after: str | None = None
    for _ in range(10):
        page = backend.crm.list_contacts(properties=["email"], after=after)
        seen += [c.crm_id for c in page.contacts]
        after = page.after
        if after is None:
            break
    assert after is None
    assert sorted(seen) == sorted(ids)  # every contact once, over more than one page


def test_changed_since_answers_later_changes_oldest_first(backend: Backend) -> None:
    first = backend.seed("first@example.com")
    time.sleep(0.01)
    cut = backend.seed("cut@example.com")
    time.sleep(0.01)
    later = backend.seed("later@example.com")
    time.sleep(0.01)
    backend.touch(first, {"firstname": "Changed"})
    (marker,) = backend.crm.get_contacts(crm_ids=[cut], properties=[])
    assert marker.updated_at is not None
    page = backend.crm.changed_since(since=marker.updated_at, properties=["firstname"])
    assert [c.crm_id for c in page.contacts] == [later, first]
    assert page.contacts[1].properties["firstname"] == "Changed"
    assert page.after is None
    everything = backend.crm.changed_since(since=marker.updated_at - timedelta(days=1),
                                           properties=[])
    assert [c.crm_id for c in everything.contacts] == [cut, later, first]


def test_deleted_since_reads_back_later_deletions_oldest_first(backend: Backend) -> None:
    early, first, second, kept = (backend.seed(f"d{i}@example.com") for i in range(4))
    backend.delete(early)
    time.sleep(0.01)
    since = datetime.now(UTC)
    time.sleep(0.01)
    backend.delete(second)
    time.sleep(0.01)
    backend.delete(first)
    time.sleep(0.01)  # the window ends now, to the millisecond: past the last deletion
    answer = backend.crm.deleted_since(since=since)
    assert not answer.pushed
    later = [r for r in answer.records if r.deleted_at > since]
    assert [r.crm_id for r in later] == [second, first]
    # The window's start may be rounded down: an earlier deletion may come too, none later.
    assert {r.crm_id for r in answer.records} <= {early, first, second}
    assert kept not in {r.crm_id for r in answer.records}
    assert all(r.deleted_at.tzinfo is not None for r in answer.records)
    assert answer.covered_through is not None and answer.covered_through >= later[-1].deleted_at
    assert answer.clamped_from is None and answer.purged_through is None


def test_deleted_since_reads_back_or_says_the_crm_pushes_them(backend: Backend) -> None:
    gone = backend.seed("gone@example.com")
    since = datetime.now(UTC) - timedelta(minutes=5)
    backend.delete(gone)
    time.sleep(0.01)
    answer = backend.crm.deleted_since(since=since)
    assert answer.pushed or [r.crm_id for r in answer.records] == [gone]
    if answer.pushed:
        assert answer.records == []
    with pytest.raises(ValueError, match="timezone-aware"):
        backend.crm.deleted_since(since=since.replace(tzinfo=None))


def test_opted_out_is_the_crms_own_flag(backend: Backend) -> None:
    out = backend.seed("out@example.com", opted_out=True)
    keen = backend.seed("keen@example.com")
    found = {c.crm_id: c.opted_out for c in backend.crm.get_contacts(crm_ids=[out, keen],
                                                                     properties=[])}
    assert found == {out: True, keen: False}


# ---- writes -------------------------------------------------------------------------------


def test_activities_one_result_per_input_in_order_with_record_ids(backend: Backend) -> None:
    ann = backend.seed("ann@example.com")
    bob = backend.seed("bob@example.com")
    activities = [
        _sent(11, ann, "ann@example.com", "Welcome"),
        _sent(12, None, "bob@example.com", "Welcome"),  # found by email
        _sent(13, None, "nobody@example.com"),  # not in the CRM
        _sent(14, bob, "bob@example.com", "Day two", kind="email_failed"),
    ]
    results = backend.crm.write_activities(activities=activities)
    assert [r.writeback_id for r in results] == [11, 12, 13, 14]
    assert [r.ok for r in results] == [True, True, False, True]
    assert not results[2].retryable and results[2].error
    assert all(r.record_id for r in (results[0], results[1], results[3]))
    assert len({results[0].record_id, results[1].record_id, results[3].record_id}) == 3
    assert backend.timeline(ann) == [("email_sent", "Welcome", "Hello ann@example.com")]
    assert backend.timeline(bob) == [("email_sent", "Welcome", "Hello bob@example.com"),
                                     ("email_failed", "Day two", "Hello bob@example.com")]


def test_a_bounce_updates_the_sent_engagement(backend: Backend) -> None:
    ann = backend.seed("ann@example.com")
    (sent,) = backend.crm.write_activities(activities=[_sent(21, ann, "ann@example.com")])
    (bounce,) = backend.crm.write_activities(activities=[
        _sent(22, ann, "ann@example.com", kind="bounced", record_id=sent.record_id)])
    assert bounce.ok and bounce.record_id == sent.record_id
    assert backend.timeline(ann) == [("bounced", "Welcome", "Hello ann@example.com")]


def test_engagement_summaries_are_absolute_and_the_latest_wins(backend: Backend) -> None:
    backend.crm.prepare()
    ann = backend.seed("ann@example.com")
    bob = backend.seed("bob@example.com")

    def summary(writeback_id: int, crm_id: str | None, email: str, opens: int
                ) -> EngagementSummary:
        return EngagementSummary(writeback_id, crm_id, email, opens=opens, clicks=1,
                                 last_open_at=NOW, last_click_at=NOW,
                                 last_clicked_url="https://shop.example/pricing",
                                 last_email_subject="Welcome", active_flows=["welcome"])

    results = backend.crm.write_engagement(summaries=[
        summary(31, ann, "ann@example.com", 2), summary(32, ann, "ann@example.com", 3),
        summary(33, None, "bob@example.com", 1), summary(34, None, "ghost@example.com", 1)])
    assert [(r.writeback_id, r.ok) for r in results] == [(31, True), (32, True), (33, True),
                                                          (34, False)]
    assert backend.engagement(ann) == {"opens": 3, "clicks": 1, "last_email_subject": "Welcome",
                                       "active_flows": ["welcome"]}
    assert backend.engagement(bob)["opens"] == 1


def test_property_updates_are_read_back(backend: Backend) -> None:
    ann = backend.seed("ann@example.com", {"lifecyclestage": "lead"})
    bob = backend.seed("bob@example.com")
    results = backend.crm.update_properties(updates=[
        PropertyUpdate(41, ann, "ann@example.com", {"lifecyclestage": "customer"}),
        PropertyUpdate(42, None, "bob@example.com", {"firstname": "Bob"}),
    ])
    assert [(r.writeback_id, r.ok) for r in results] == [(41, True), (42, True)]
    found = {c.crm_id: c.properties for c in backend.crm.get_contacts(
        crm_ids=[ann, bob], properties=["lifecyclestage", "firstname"])}
    assert found[ann]["lifecyclestage"] == "customer"
    assert found[bob]["firstname"] == "Bob"


def test_tasks_land_on_their_contact(backend: Backend) -> None:
    ann = backend.seed("ann@example.com")
    results = backend.crm.create_tasks(tasks=[
        Task(51, ann, "ann@example.com", "Hot lead clicked pricing", "Call today", NOW),
        Task(52, None, "ghost@example.com", "Nobody", "", None),
    ])
    assert [(r.writeback_id, r.ok) for r in results] == [(51, True), (52, False)]
    assert results[0].record_id
    assert backend.task_subjects(ann) == ["Hot lead clicked pricing"]


def test_opt_outs_show_in_the_crms_flag(backend: Backend) -> None:
    ann = backend.seed("ann@example.com")
    bob = backend.seed("bob@example.com")
    results = backend.crm.record_opt_outs(opt_outs=[OptOut(61, ann, "ann@example.com", NOW)])
    assert [(r.writeback_id, r.ok) for r in results] == [(61, True)]
    found = {c.crm_id: c.opted_out for c in backend.crm.get_contacts(crm_ids=[ann, bob],
                                                                     properties=[])}
    assert found == {ann: True, bob: False}


def test_prepare_is_idempotent(backend: Backend) -> None:
    backend.crm.prepare()
    backend.crm.prepare()
    ann = backend.seed("ann@example.com")
    (result,) = backend.crm.write_engagement(summaries=[EngagementSummary(
        71, ann, "ann@example.com", opens=0, clicks=0, last_open_at=None, last_click_at=None,
        last_clicked_url=None, last_email_subject=None)])
    assert result.ok
    assert backend.engagement(ann)["opens"] == 0
