"""The Salesforce adapter's vendor-specific behaviour against the emulated org, over real
sockets with simple-salesforce, the real credential store and the Redis rate limiter:
Task fields, composite batching, session refresh, the daily limit and the budget share."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from adapters.errors import DisconnectedError, RetryableCRMError
from adapters.port import EmailActivity, EngagementSummary, OptOut, PropertyUpdate, Task
from adapters.salesforce.adapter import SalesforceCRM
from adapters.salesforce.client import SalesforceConfig
from adapters.salesforce.tokens import RefreshGrant
from adapters.salesforce.writeback import ENGAGEMENT_SUBJECT, OPT_OUT_SUBJECT, marker
from connector.models import Account
from connector.ratelimit import RedisRateLimiter
from connector.runtime import Runtime
from connector.services.accounts import connect_account
from connector.services.credentials import DatabaseCredentialStore
from devcrm.salesforce import Org, SalesforceEmulator, plain_http_session

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
CLIENT_ID, CLIENT_SECRET = "sf-test-cid", "sf-test-secret"


@pytest.fixture
def emu() -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                            api_limit=1000) as emulator:
        yield emulator


def connect(rt: Runtime, redis_conn: redis.Redis, emu: SalesforceEmulator, *,
            refreshable: bool = False, with_exchange: bool = True,
            **config: Any) -> tuple[Org, SalesforceCRM, int]:
    """A new org connected as an account (with a refresh token when `refreshable`)."""
    org = emu.add_org()
    refresh_token = emu.tokens.issue_refresh(org.org_id) if refreshable else None
    with rt.db.session() as session:
        view, _ = connect_account(session, rt.vault, provider="salesforce",
                                  external_id=org.org_id, access_token=org.access_token,
                                  refresh_token=refresh_token, instance_url=emu.url,
                                  now=rt.clock.now())
    exchange = RefreshGrant(login_url=emu.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                            session_factory=plain_http_session) if with_exchange else None
    crm = SalesforceCRM(account_id=view.id, store=DatabaseCredentialStore(rt.db, rt.vault,
                                                                          rt.clock),
                        limiter=RedisRateLimiter(redis_conn),
                        config=SalesforceConfig(**{"backoff": 0.01, **config}),
                        exchange=exchange, now=lambda: NOW,
                        session_factory=plain_http_session)
    return org, crm, view.id


def person(org: Org, email: str, sobject: str = "Contact") -> str:
    values: dict[str, Any] = {"Email": email, "LastName": email.split("@")[0]}
    if sobject == "Lead":
        values["Company"] = "Acme"
    return org.create(sobject, values)


def sent(writeback_id: int, crm_id: str | None, email: str, **kwargs: Any) -> EmailActivity:
    values: dict[str, Any] = {"kind": "email_sent", "subject": "Welcome",
                              "text": f"Hello {email}", "occurred_at": NOW,
                              "message_id": f"msg-{writeback_id}"}
    values.update(kwargs)
    return EmailActivity(writeback_id=writeback_id, contact_crm_id=crm_id, email=email,
                         **values)


def composite_calls(emu: SalesforceEmulator, method: str) -> int:
    return sum(1 for m, path, _, _ in emu.requests
               if m == method and path.rstrip("/").endswith("/composite/sobjects"))


def test_an_email_becomes_a_completed_email_task_on_the_contact_or_lead(
        rt: Runtime, redis_conn: redis.Redis, emu: SalesforceEmulator) -> None:
    org, crm, _ = connect(rt, redis_conn, emu)
    ann = person(org, "ann@example.com")
    lead = person(org, "lee@example.com", "Lead")
    body = "x" * 5000
    results = crm.write_activities(activities=[
        sent(1, ann, "ann@example.com", text=body),
        sent(2, None, "lee@example.com", kind="email_failed")])  # the Lead, found by email
    assert [r.ok for r in results] == [True, True]
    task = org.find("Task", str(results[0].record_id))
    assert task["TaskSubtype"] == "Email"
    assert task["Subject"] == "Email: Welcome"
    assert task["Status"] == "Completed"
    assert task["WhoId"] == ann
    assert task["ActivityDate"] == "2026-03-02"
    assert task["Description"].startswith("Status: sent\n\n" + "x" * 999 + "…")
    assert len(task["Description"]) < 1100
    assert marker("msg-1") in task["Description"]
    failed = org.find("Task", str(results[1].record_id))
    assert failed["WhoId"] == lead and failed["Description"].startswith("Status: failed")


def test_a_bounce_patches_the_task_and_a_maybe_written_email_is_not_written_twice(
        rt: Runtime, redis_conn: redis.Redis, emu: SalesforceEmulator) -> None:
    org, crm, _ = connect(rt, redis_conn, emu)
    ann = person(org, "ann@example.com")
    (first,) = crm.write_activities(activities=[sent(1, ann, "ann@example.com")])
    (again,) = crm.write_activities(activities=[sent(1, ann, "ann@example.com",
                                                     maybe_written=True)])
    assert again.ok and again.record_id == first.record_id
    (bounce,) = crm.write_activities(activities=[sent(2, ann, "ann@example.com", kind="bounced",
                                                      record_id=first.record_id)])
    assert bounce.ok and bounce.record_id == first.record_id
    (task,) = org.all("Task")
    assert task["Description"].startswith("Status: bounced")


def test_250_activities_take_two_composite_calls_with_results_in_order(
        rt: Runtime, redis_conn: redis.Redis, emu: SalesforceEmulator) -> None:
    org, crm, _ = connect(rt, redis_conn, emu)
    ann = person(org, "ann@example.com")
    before = composite_calls(emu, "POST")
    results = crm.write_activities(activities=[sent(i, ann, "ann@example.com",
                                                    subject=f"S{i}") for i in range(250)])
    assert composite_calls(emu, "POST") - before == 2
    assert [r.writeback_id for r in results] == list(range(250))
    assert all(r.ok for r in results)
    subjects = [org.find("Task", str(r.record_id))["Subject"] for r in results]
    assert subjects == [f"Email: S{i}" for i in range(250)]


def test_an_expired_session_is_refreshed_and_the_client_rebuilt(
        rt: Runtime, redis_conn: redis.Redis, emu: SalesforceEmulator) -> None:
    org, crm, account_id = connect(rt, redis_conn, emu, refreshable=True)
    ann = person(org, "ann@example.com")
    assert [c.crm_id for c in crm.get_contacts(crm_ids=[ann], properties=[])] == [ann]
    emu.expire_tokens(org)
    (found,) = crm.get_contacts(crm_ids=[ann], properties=["FirstName"])
    assert found.crm_id == ann
    stored = DatabaseCredentialStore(rt.db, rt.vault, rt.clock).load(account_id)
    assert stored.access_token != org.access_token  # the refreshed session was kept
    statuses = [s for _, path, s, _ in emu.requests if path.startswith("/services/data/")]
    refused = statuses.index(401)  # refused once, then answered on the new session
    assert statuses[refused:] == [401, 200, 200]  # the describe of FirstName's object, the query


def test_a_refused_refresh_disconnects_the_account(
        rt: Runtime, redis_conn: redis.Redis, emu: SalesforceEmulator) -> None:
    org, crm, account_id = connect(rt, redis_conn, emu, refreshable=True, with_exchange=False)
    ann = person(org, "ann@example.com")
    emu.expire_tokens(org)
    with pytest.raises(DisconnectedError):
        crm.get_contacts(crm_ids=[ann], properties=[])
    with rt.db.session() as session:
        account = session.get(Account, account_id)
        assert account is not None and account.status == "disconnected"


def test_request_limit_exceeded_is_retryable_and_pauses_the_org(
        rt: Runtime, redis_conn: redis.Redis) -> None:
    with SalesforceEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                            api_limit=2) as small:
        org, crm, _ = connect(rt, redis_conn, small, api_share=1.0, acquire_timeout=1.0)
        ann = person(org, "ann@example.com")
        crm.get_contacts(crm_ids=[ann], properties=[])
        crm.get_contacts(crm_ids=[ann], properties=[])
        with pytest.raises(RetryableCRMError) as raised:
            crm.get_contacts(crm_ids=[ann], properties=[])
        assert "daily API limit" in str(raised.value)
        assert raised.value.retry_after == 3600
        sent_before = len(small.requests)
        with pytest.raises(RetryableCRMError):  # the pause holds every worker back
            crm.get_contacts(crm_ids=[ann], properties=[])
        assert len(small.requests) == sent_before


def test_past_its_share_of_the_daily_budget_the_connector_stops_calling(
        rt: Runtime, redis_conn: redis.Redis) -> None:
    with SalesforceEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                            api_limit=10) as small:
        org, crm, _ = connect(rt, redis_conn, small, api_share=0.3)
        ann = person(org, "ann@example.com")
        for _ in range(4):  # 4 of 10 used: past 30 % after the fourth answer
            crm.get_contacts(crm_ids=[ann], properties=[])
        sent_before = len(small.requests)
        with pytest.raises(RetryableCRMError) as raised:
            crm.get_contacts(crm_ids=[ann], properties=[])
        assert "4 of its 10" in str(raised.value)
        assert len(small.requests) == sent_before


def test_5xx_is_retried_then_retryable(rt: Runtime, redis_conn: redis.Redis,
                                       emu: SalesforceEmulator) -> None:
    org, crm, _ = connect(rt, redis_conn, emu, retries=2)
    ann = person(org, "ann@example.com")
    emu.faults.add(503, count=2, path_prefix="/services/data/")
    assert len(crm.get_contacts(crm_ids=[ann], properties=[])) == 1
    emu.faults.add(500, count=3, path_prefix="/services/data/")
    with pytest.raises(RetryableCRMError):
        crm.get_contacts(crm_ids=[ann], properties=[])


def test_engagement_is_one_task_per_contact_updated_in_place(
        rt: Runtime, redis_conn: redis.Redis, emu: SalesforceEmulator) -> None:
    org, crm, _ = connect(rt, redis_conn, emu)
    ann = person(org, "ann@example.com")

    def summary(writeback_id: int, opens: int) -> EngagementSummary:
        return EngagementSummary(writeback_id, ann, "ann@example.com", opens=opens, clicks=0,
                                 last_open_at=NOW, last_click_at=None, last_clicked_url=None,
                                 last_email_subject="Welcome")

    crm.write_engagement(summaries=[summary(1, 1)])
    crm.write_engagement(summaries=[summary(2, 4)])
    (task,) = org.all("Task")
    assert task["Subject"] == ENGAGEMENT_SUBJECT and task["WhoId"] == ann
    assert task["Description"].startswith("Opens: 4\nClicks: 0")


def test_properties_opt_outs_and_tasks_on_contacts_and_leads(
        rt: Runtime, redis_conn: redis.Redis, emu: SalesforceEmulator) -> None:
    org, crm, _ = connect(rt, redis_conn, emu)
    ann = person(org, "ann@example.com")
    lead = person(org, "lee@example.com", "Lead")
    results = crm.update_properties(updates=[
        PropertyUpdate(1, ann, "ann@example.com", {"LeadSource": "Web"}),
        PropertyUpdate(2, lead, "lee@example.com", {"FirstName": "Lee"}),
        PropertyUpdate(3, ann, "ann@example.com", {"NoSuchField__c": "x"})])
    assert [r.ok for r in results] == [False, True, False]  # ann's two merged: one refusal
    assert results[0].error and "INVALID_FIELD" in results[0].error
    assert org.find("Lead", lead)["FirstName"] == "Lee"
    (out,) = crm.record_opt_outs(opt_outs=[OptOut(4, None, "lee@example.com", NOW)])
    assert out.ok and org.find("Lead", lead)["HasOptedOutOfEmail"] is True
    # The timeline says so too, once: the retry of an opt-out logs no second Task.
    (again,) = crm.record_opt_outs(opt_outs=[OptOut(4, lead, "lee@example.com", NOW)])
    assert again.ok
    [logged] = [t for t in org.all("Task") if t["WhoId"] == lead]
    assert (logged["Subject"], logged["Status"], logged["ActivityDate"]) == (
        OPT_OUT_SUBJECT, "Completed", "2026-03-02")
    assert "lee@example.com unsubscribed" in logged["Description"]
    (task,) = crm.create_tasks(tasks=[Task(5, ann, "ann@example.com", "Call", "Today", None)])
    created = org.find("Task", str(task.record_id))
    assert (created["Status"], created["ActivityDate"], created["TaskSubtype"]) == (
        "Not Started", "2026-03-02", "Task")


def test_a_revoked_refresh_token_disconnects_the_account(
        rt: Runtime, redis_conn: redis.Redis, emu: SalesforceEmulator) -> None:
    org, crm, account_id = connect(rt, redis_conn, emu, refreshable=True)
    ann = person(org, "ann@example.com")
    emu.revoke(org)
    with pytest.raises(DisconnectedError):
        crm.get_contacts(crm_ids=[ann], properties=[])
    with rt.db.session() as session:
        account = session.get(Account, account_id)
        assert account is not None and account.status == "disconnected"


def test_changed_since_pages_contacts_and_leads_together_oldest_first(
        rt: Runtime, redis_conn: redis.Redis, emu: SalesforceEmulator) -> None:
    org, crm, _ = connect(rt, redis_conn, emu)
    # Many records share a millisecond: the keyset cursor must neither skip nor repeat them.
    ids = {person(org, f"p{i}@example.com", "Lead" if i % 2 else "Contact")
           for i in range(260)}
    seen: list[str] = []
    stamps: list[datetime] = []
    after: str | None = None
    pages = 0
    while True:
        page = crm.changed_since(since=datetime(2020, 1, 1, tzinfo=UTC), properties=["Email"],
                                 after=after)
        pages += 1
        seen += [c.crm_id for c in page.contacts]
        stamps += [c.updated_at for c in page.contacts if c.updated_at is not None]
        after = page.after
        if after is None or pages > 5:
            break
    assert after is None and pages == 2
    assert sorted(seen) == sorted(ids)
    assert stamps == sorted(stamps)


def test_a_timeout_is_retried_but_an_unanswered_create_is_looked_for_not_resent(
        rt: Runtime, redis_conn: redis.Redis, emu: SalesforceEmulator) -> None:
    org, crm, _ = connect(rt, redis_conn, emu, timeout=0.3)
    ann = person(org, "ann@example.com")
    emu.faults.add(delay=0.6, path_prefix="/services/data/", method="GET")
    assert len(crm.get_contacts(crm_ids=[ann], properties=[])) == 1  # read again: harmless
    emu.faults.add(delay=0.6, path_prefix="/services/data/", method="POST")
    (unanswered,) = crm.write_activities(activities=[sent(1, ann, "ann@example.com")])
    assert not unanswered.ok and unanswered.retryable
    deadline = time.monotonic() + 5  # the job's retry comes later: the slow create has landed
    while not org.all("Task") and time.monotonic() < deadline:
        time.sleep(0.05)
    (retried,) = crm.write_activities(activities=[sent(1, ann, "ann@example.com",
                                                       maybe_written=True)])
    assert retried.ok
    (task,) = org.all("Task")  # the slow create landed once; the retry found it
    assert retried.record_id == task["Id"]
