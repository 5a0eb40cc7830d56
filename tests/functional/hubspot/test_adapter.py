"""The HubSpot adapter against the emulator over real sockets, checked in HubSpot's own
terms (what landed in the portal, which requests were made): engagements and their
association, the app's properties, rate limits, retries, timeouts, token refresh and the
portal boundary."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import select

from adapters.errors import DisconnectedError, PermanentCRMError, RetryableCRMError
from adapters.hubspot.adapter import HubSpotCRM
from adapters.hubspot.auth import HubSpotOAuth
from adapters.hubspot.client import HubSpotClient, HubSpotConfig
from adapters.hubspot.contacts import read_contacts
from adapters.hubspot.properties import APP_PROPERTIES, GROUP
from adapters.hubspot.tokens import AccountTokens
from adapters.hubspot.writeback import TEXT_LIMIT
from adapters.port import (
    Credentials,
    EmailActivity,
    EngagementSummary,
    OptOut,
    PropertyUpdate,
)
from connector.clock import VirtualClock
from connector.models import Account
from connector.ratelimit import RedisRateLimiter
from connector.runtime import Runtime
from connector.services.accounts import connect_account
from connector.services.credentials import DatabaseCredentialStore
from connector.services.install import record_hubspot_install
from devcrm.hubspot import HubSpotEmulator, Portal
from tests.contract.conftest import hubspot_adapter

CLIENT_ID, CLIENT_SECRET = "adapter-cid", "adapter-secret"
CALLBACK = "https://drip.example.com/oauth/hubspot/callback"
FAST: dict[str, Any] = {"backoff": 0.01, "timeout": 2.0}  # retries without real waits between them


@pytest.fixture
def emu() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as emulator:
        yield emulator


def _adapter(rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator, **config: Any
             ) -> tuple[Portal, HubSpotCRM]:
    return hubspot_adapter(rt, redis_conn, emu, **{**FAST, **config})


def _requests(emu: HubSpotEmulator, path: str) -> list[tuple[str, str, int, int | None]]:
    return [r for r in emu.requests if r[1].startswith(path)]


def _sent(writeback_id: int, crm_id: str | None, email: str, **kwargs: Any) -> EmailActivity:
    values: dict[str, Any] = {"kind": "email_sent", "subject": "Welcome", "text": "Hello",
                              "occurred_at": datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
                              "message_id": f"msg-{writeback_id}"}
    values.update(kwargs)
    return EmailActivity(writeback_id=writeback_id, contact_crm_id=crm_id, email=email, **values)


EMAILS = "/crm/v3/objects/emails"


# ---- what lands in the portal --------------------------------------------------------------


def test_an_activity_is_an_email_engagement_associated_to_its_contact(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    portal, crm = _adapter(rt, redis_conn, emu)
    ann = portal.create_contact({"email": "ann@example.com"})
    (result,) = crm.write_activities(activities=[_sent(
        1, None, "ann@example.com", subject="Your order", text="x" * (TEXT_LIMIT + 500))])
    assert result.ok
    email = portal.emails[str(result.record_id)]
    assert email["contactIds"] == [ann]
    props = email["properties"]
    assert props["hs_email_direction"] == "EMAIL"
    assert props["hs_email_status"] == "SENT"
    assert props["hs_email_subject"] == "Your order"
    assert props["hs_timestamp"] == "2026-03-02T09:30:00.000Z"
    assert len(props["hs_email_text"]) == TEXT_LIMIT  # capped
    assert json.loads(props["hs_email_headers"])["messageId"] == "msg-1"


def test_inputs_failing_inside_a_batch_fail_alone(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    portal, crm = _adapter(rt, redis_conn, emu)
    ann = portal.create_contact({"email": "ann@example.com"})
    results = crm.write_activities(activities=[
        _sent(1, ann, "ann@example.com"), _sent(2, "999999", "gone@example.com"),
        _sent(3, ann, "ann@example.com", kind="email_failed")])
    assert [(r.writeback_id, r.ok) for r in results] == [(1, True), (2, False), (3, True)]
    assert "999999" in str(results[1].error)
    assert [r[2] for r in _requests(emu, EMAILS)] == [207]  # one call, a partial answer
    statuses = {e["properties"]["hs_email_status"] for e in portal.timeline(ann)}
    assert statuses == {"SENT", "FAILED"}


def test_a_batch_refused_for_one_input_is_split_until_it_stands_alone(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    portal, crm = _adapter(rt, redis_conn, emu)
    ids = [portal.create_contact({"email": f"c{i}@example.com"}) for i in range(4)]
    updates = [PropertyUpdate(i, crm_id, f"c{i}@example.com", {"firstname": f"C{i}"})
               for i, crm_id in enumerate(ids)]
    updates[2] = PropertyUpdate(2, ids[2], "c2@example.com", {"no_such_property": "x"})
    results = crm.update_properties(updates=updates)
    assert [r.ok for r in results] == [True, True, False, True]
    assert "no_such_property" in str(results[2].error)
    assert [portal.contacts[i]["properties"].get("firstname") for i in ids] == [
        "C0", "C1", None, "C3"]


def test_prepare_creates_the_group_and_properties_that_then_hold_the_summary(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    portal, crm = _adapter(rt, redis_conn, emu)
    ann = portal.create_contact({"email": "ann@example.com"})
    assert "drip_opens" not in portal.properties
    crm.prepare()
    crm.prepare()  # existing group and properties are success
    assert GROUP in portal.groups
    for prop in APP_PROPERTIES:
        assert portal.properties[prop.name]["groupName"] == GROUP
    moment = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    summaries = [EngagementSummary(n, ann, "ann@example.com", opens=n, clicks=1,
                                   last_open_at=moment, last_click_at=moment,
                                   last_clicked_url="https://shop.example/p",
                                   last_email_subject="Welcome", active_flows=["a", "b"])
                 for n in (4, 5)]
    before = len(_requests(emu, "/crm/v3/objects/contacts/batch/update"))
    assert all(r.ok for r in crm.write_engagement(summaries=summaries))
    # Two summaries for one contact: one input (HubSpot refuses an id twice in a batch).
    assert [r[2] for r in _requests(emu, "/crm/v3/objects/contacts/batch/update")[before:]
            ] == [200]
    values = portal.contacts[ann]["properties"]
    assert values["drip_opens"] == "5"
    assert values["drip_last_open_at"] == "2026-03-02T10:00:00.000Z"
    assert values["drip_last_clicked_link"] == "https://shop.example/p"
    assert values["drip_active_flows"] == "a; b"


def test_reads_drop_redacted_values_and_include_the_required_properties(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    portal, crm = _adapter(rt, redis_conn, emu)
    ann = portal.create_contact({"email": "ann@example.com", "phone": "REDACTED"})
    (contact,) = crm.get_contacts(crm_ids=[ann], properties=["phone"])
    assert "phone" not in contact.properties
    assert {"email", "hs_email_optout", "lastmodifieddate"} <= set(contact.properties)


def test_changed_since_stops_at_searchs_ten_thousand_cap(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    portal, crm = _adapter(rt, redis_conn, emu)
    for i in range(10_050):
        portal.create_contact({"firstname": f"c{i}"})
    since = datetime.now(UTC) - timedelta(days=1)
    page = crm.changed_since(since=since, properties=[], after="9800")
    assert len(page.contacts) == 200 and page.total == 10_050
    assert page.after is None  # the caller starts again from the last updated_at
    assert crm.changed_since(since=since, properties=[], after="9600").after == "9800"


# ---- limits, retries, timeouts --------------------------------------------------------------


def test_429_pauses_everyone_and_retries_without_a_storm(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    portal, crm = _adapter(rt, redis_conn, emu)
    ann = portal.create_contact({"email": "ann@example.com"})
    emu.faults.add(status=429, count=2, path_prefix=EMAILS)
    (result,) = crm.write_activities(activities=[_sent(1, ann, "ann@example.com")])
    assert result.ok
    assert [r[2] for r in _requests(emu, EMAILS)] == [429, 429, 201]
    assert len(portal.emails) == 1


def test_429_that_goes_on_hands_the_call_back_retryable(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    portal, crm = _adapter(rt, redis_conn, emu, rate_limit_retries=1)
    ann = portal.create_contact({"email": "ann@example.com"})
    emu.faults.add(status=429, count=5, path_prefix=EMAILS)
    with pytest.raises(RetryableCRMError) as caught:
        crm.write_activities(activities=[_sent(1, ann, "ann@example.com")])
    assert caught.value.retry_after is not None and caught.value.retry_after > 0
    assert len(_requests(emu, EMAILS)) == 2
    # Every worker on the portal waits out the pause, not only this one.
    assert redis_conn.pttl(f"ratelimit:hubspot:{portal.hub_id}:pause") > 0


def test_the_shared_limit_keeps_the_portal_under_hubspots(
    rt: Runtime, redis_conn: redis.Redis
) -> None:
    with HubSpotEmulator(rate_limit=(4, 0.5)) as small:
        portal, crm = _adapter(rt, redis_conn, small, rate_limit=(4, 0.5))
        ann = portal.create_contact({"email": "ann@example.com"})
        for _ in range(10):
            crm.get_contacts(crm_ids=[ann], properties=[])
        assert [r[2] for r in small.requests] == [200] * 10


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried_then_handed_back_retryable(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator, status: int
) -> None:
    portal, crm = _adapter(rt, redis_conn, emu, retries=2)
    ann = portal.create_contact({"email": "ann@example.com"})
    emu.faults.add(status=status, count=2, path_prefix=EMAILS)
    (result,) = crm.write_activities(activities=[_sent(1, ann, "ann@example.com")])
    assert result.ok
    emu.faults.add(status=status, count=10, path_prefix=EMAILS)
    with pytest.raises(RetryableCRMError):
        crm.write_activities(activities=[_sent(2, ann, "ann@example.com")])
    assert [r[2] for r in _requests(emu, EMAILS)] == [status, status, 201] + [status] * 3


def test_a_retryable_failure_after_part_of_a_call_landed_does_not_raise(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    portal, crm = _adapter(rt, redis_conn, emu, retries=0)
    ann = portal.create_contact({"email": "ann@example.com"})
    (sent,) = crm.write_activities(activities=[_sent(1, ann, "ann@example.com")])
    emu.faults.add(status=503, count=5, path_prefix=f"{EMAILS}/batch/update")
    results = crm.write_activities(activities=[
        _sent(2, ann, "ann@example.com"),
        _sent(3, ann, "ann@example.com", kind="bounced", record_id=sent.record_id)])
    assert results[0].ok and results[0].record_id
    assert not results[1].ok and results[1].retryable  # retried later: the create is not
    assert len(portal.emails) == 2


def _all_calls(crm: HubSpotCRM, crm_id: str) -> dict[str, Any]:
    since = datetime.now(UTC) - timedelta(days=1)
    return {
        "get_contacts": lambda: crm.get_contacts(crm_ids=[crm_id], properties=[]),
        "list_contacts": lambda: crm.list_contacts(properties=[]),
        "changed_since": lambda: crm.changed_since(since=since, properties=[]),
        "write_activities": lambda: crm.write_activities(
            activities=[_sent(1, crm_id, "ann@example.com")]),
        "update_properties": lambda: crm.update_properties(
            updates=[PropertyUpdate(1, crm_id, "ann@example.com", {"firstname": "A"})]),
        "record_opt_outs": lambda: crm.record_opt_outs(
            opt_outs=[OptOut(1, crm_id, "ann@example.com", since)]),
        "prepare": crm.prepare,
    }


# write_activities' create is not retried when unanswered, but looked for:
# tests/functional/hubspot/test_idempotent_create.py.
@pytest.mark.parametrize("call", ["get_contacts", "list_contacts", "changed_since",
                                  "update_properties", "record_opt_outs", "prepare"])
def test_every_call_has_a_timeout(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator, call: str
) -> None:
    portal, crm = _adapter(rt, redis_conn, emu, timeout=0.3, retries=1)
    ann = portal.create_contact({"email": "ann@example.com"})
    emu.faults.add(delay=1.5, count=2)  # answered eventually, after the timeout
    with pytest.raises(RetryableCRMError, match="no answer"):
        _all_calls(crm, ann)[call]()


def test_a_timeout_then_an_answer_succeeds(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    portal, crm = _adapter(rt, redis_conn, emu, timeout=0.3)
    ann = portal.create_contact({"email": "ann@example.com"})
    emu.faults.add(delay=1.0, count=1)
    assert [c.crm_id for c in crm.get_contacts(crm_ids=[ann], properties=[])] == [ann]


def test_other_client_errors_are_permanent_with_hubspots_message(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    _, crm = _adapter(rt, redis_conn, emu)
    emu.faults.add(status=403, count=1, path_prefix="/crm/v3/objects/contacts")
    with pytest.raises(PermanentCRMError, match="403"):
        crm.list_contacts(properties=[])


# ---- tokens ---------------------------------------------------------------------------------


def _installed(rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator, hub_id: int
               ) -> tuple[Portal, HubSpotCRM, int]:
    """A portal installed over OAuth (30-minute tokens with a refresh token)."""
    portal = emu.add_portal(hub_id=hub_id)
    oauth = HubSpotOAuth(CLIENT_ID, CLIENT_SECRET, emu.url, emu.url + "/oauth/authorize", 5.0,
                         clock=rt.clock)
    installed = oauth.exchange_code(emu.issue_code(hub_id, redirect_uri=CALLBACK), CALLBACK)
    install = record_hubspot_install(rt.db, rt.vault, rt.settings, hub_id=str(hub_id),
                                     grant=installed.grant, now=rt.clock.now())
    crm = HubSpotCRM(account_id=install.account_id,
                     store=DatabaseCredentialStore(rt.db, rt.vault, rt.clock),
                     limiter=RedisRateLimiter(redis_conn),
                     config=HubSpotConfig(emu.url, CLIENT_ID, CLIENT_SECRET, **FAST),
                     exchange=oauth.refresh, now=rt.clock.now)
    return portal, crm, install.account_id


def _token_requests(emu: HubSpotEmulator) -> int:
    return len([r for r in emu.requests if r[1].startswith("/oauth/") and r[1].endswith("token")])


def test_a_401_refreshes_once_and_retries(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    portal, crm, account_id = _installed(rt, redis_conn, emu, 8801)
    ann = portal.create_contact({"email": "ann@example.com"})
    assert crm.get_contacts(crm_ids=[ann], properties=[])
    before = DatabaseCredentialStore(rt.db, rt.vault, rt.clock).load(account_id)
    tokens_before = _token_requests(emu)
    emu.expire_tokens(8801)
    assert [c.crm_id for c in crm.get_contacts(crm_ids=[ann], properties=[])] == [ann]
    assert _token_requests(emu) == tokens_before + 1
    reads = [r[2] for r in _requests(emu, "/crm/v3/objects/contacts/batch/read")]
    assert reads == [200, 401, 200]
    after = DatabaseCredentialStore(rt.db, rt.vault, rt.clock).load(account_id)
    assert after.access_token != before.access_token


def test_a_token_about_to_expire_is_refreshed_before_the_call(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    portal, crm, _ = _installed(rt, redis_conn, emu, 8802)
    ann = portal.create_contact({"email": "ann@example.com"})
    assert crm.get_contacts(crm_ids=[ann], properties=[])
    tokens_before = _token_requests(emu)
    assert isinstance(rt.clock, VirtualClock)
    rt.clock.advance(timedelta(minutes=26))  # 4 of 30 minutes left
    assert crm.get_contacts(crm_ids=[ann], properties=[])
    assert _token_requests(emu) == tokens_before + 1
    assert 401 not in [r[2] for r in emu.requests]


def test_a_refused_refresh_disconnects_the_account(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    portal, crm, account_id = _installed(rt, redis_conn, emu, 8803)
    ann = portal.create_contact({"email": "ann@example.com"})
    emu.revoke(8803)  # uninstalled: access and refresh tokens die
    with pytest.raises(DisconnectedError):
        crm.get_contacts(crm_ids=[ann], properties=[])
    with rt.db.session() as session:
        account = session.scalars(select(Account).where(Account.id == account_id)).one()
        assert account.status == "disconnected"
        assert account.access_token_encrypted is None
    with pytest.raises(DisconnectedError):  # and it stays so, without calling HubSpot
        crm.get_contacts(crm_ids=[ann], properties=[])


def test_a_private_app_token_refused_disconnects_the_account(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    emu.add_portal(hub_id=8804)
    with rt.db.session() as session:  # a token HubSpot does not know (deleted private app)
        view, _ = connect_account(session, rt.vault, provider="hubspot", external_id="8804",
                                  access_token="pat-na1-deleted", now=rt.clock.now())
    store = DatabaseCredentialStore(rt.db, rt.vault, rt.clock)
    crm = HubSpotCRM(account_id=view.id, store=store, limiter=RedisRateLimiter(redis_conn),
                     config=HubSpotConfig(emu.url, CLIENT_ID, CLIENT_SECRET, **FAST))
    with pytest.raises(DisconnectedError):
        crm.list_contacts(properties=[])
    with pytest.raises(DisconnectedError):
        store.load(view.id)


def test_each_portal_is_reached_only_with_its_own_token(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    first, first_crm = _adapter(rt, redis_conn, emu)
    second, second_crm = _adapter(rt, redis_conn, emu)
    ann = first.create_contact({"email": "ann@first.example"})
    bob = second.create_contact({"email": "bob@second.example"})
    assert ann == bob  # the same id in both portals
    assert [c.email for c in first_crm.get_contacts(crm_ids=[ann], properties=[])] == [
        "ann@first.example"]
    assert [c.email for c in second_crm.get_contacts(crm_ids=[ann], properties=[])] == [
        "bob@second.example"]
    first_crm.write_activities(activities=[_sent(1, ann, "ann@first.example")])
    assert len(first.emails) == 1 and second.emails == {}
    assert {r[3] for r in emu.requests} == {first.hub_id, second.hub_id}
    keys = {k.decode() for k in redis_conn.keys("ratelimit:*")}  # type: ignore[union-attr]
    assert {f"ratelimit:hubspot:{first.hub_id}:window",
            f"ratelimit:hubspot:{second.hub_id}:window"} <= keys


class _MixedUpStore:
    """A credential store answering another account's credentials (a bug at the edge)."""

    def load(self, account_id: int) -> Credentials:
        return Credentials(account_id + 1, "hubspot", "1", "pat-other", None, None)

    def refresh(self, account_id: int, stale_token: str, exchange: Any) -> Credentials:
        raise AssertionError("not reached")

    def disconnect(self, account_id: int, reason: str) -> None:
        raise AssertionError("not reached")


def test_another_accounts_credentials_are_never_used(
    redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    crm = HubSpotCRM(account_id=5, store=_MixedUpStore(), limiter=RedisRateLimiter(redis_conn),
                     config=HubSpotConfig(emu.url, None, None))
    with pytest.raises(PermanentCRMError, match="account 6"):
        crm.list_contacts(properties=[])
    assert emu.requests == []


def test_retries_back_off_exponentially_with_jitter(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    portal, crm = _adapter(rt, redis_conn, emu)
    ann = portal.create_contact({"email": "ann@example.com"})
    sleeps: list[float] = []
    client = HubSpotClient(tokens=AccountTokens(account_id=crm.account_id,
                                                store=DatabaseCredentialStore(rt.db, rt.vault,
                                                                              rt.clock),
                                                exchange=None, now=rt.clock.now),
                           limiter=RedisRateLimiter(redis_conn),
                           config=HubSpotConfig(emu.url, None, None, backoff=0.2, retries=3),
                           sleep=sleeps.append)
    emu.faults.add(status=503, count=10)
    with pytest.raises(RetryableCRMError):
        read_contacts(client, [ann], [])
    assert len(sleeps) == 3
    for attempt, slept in enumerate(sleeps):
        assert 0.1 * 2 ** attempt <= slept <= 0.2 * 2 ** attempt  # half to full, doubling


def test_redis_down_is_retryable_not_a_crash(
    rt: Runtime, redis_conn: redis.Redis, emu: HubSpotEmulator
) -> None:
    portal, _ = _adapter(rt, redis_conn, emu)
    down = redis.Redis(unix_socket_path="/nonexistent/redis.sock", retry=Retry(NoBackoff(), 0))
    with rt.db.session() as session:
        account = session.scalars(select(Account).where(
            Account.external_id == str(portal.hub_id))).one()
    crm = HubSpotCRM(account_id=account.id,
                     store=DatabaseCredentialStore(rt.db, rt.vault, rt.clock),
                     limiter=RedisRateLimiter(down), config=HubSpotConfig(emu.url, None, None))
    with pytest.raises(RetryableCRMError, match="rate limiter unavailable"):
        crm.list_contacts(properties=[])
