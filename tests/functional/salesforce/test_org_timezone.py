"""The org's default timezone as the install reads it (SELECT TimeZoneSidKey FROM
Organization) from the emulated org over real sockets, and how its failures are told;
the emulator's Organization is read only, as Salesforce's is."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import requests

from adapters.errors import PermanentCRMError, RetryableCRMError
from adapters.salesforce.account import account_timezone
from connector.runtime import Runtime
from connector.services.accounts import AccountView, connect_account
from connector.services.install import take_crm_timezone
from devcrm.salesforce import Org, SalesforceEmulator

QUERY = "/services/data/v59.0/query"


@pytest.fixture
def emu() -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator() as emulator:
        yield emulator


@pytest.fixture
def org(emu: SalesforceEmulator) -> Org:
    return emu.add_org(time_zone="Asia/Tokyo")


@pytest.fixture
def sf_account(rt: Runtime, emu: SalesforceEmulator, org: Org) -> AccountView:
    with rt.db.session() as session:
        view, _ = connect_account(session, rt.vault, provider="salesforce",
                                  external_id=org.org_id, access_token=org.access_token,
                                  instance_url=emu.url, now=rt.clock.now())
    return view


def test_the_orgs_timezone_is_one_query_counted_as_one_api_request(
    emu: SalesforceEmulator, org: Org,
) -> None:
    assert account_timezone(emu.url, org.access_token, timeout=5) == "Asia/Tokyo"
    assert [path for _m, path, _s, _o in emu.requests] == [QUERY]
    assert emu.limiter.used(org.org_id) == 1


@pytest.mark.parametrize(("status", "error", "said"), [
    (503, RetryableCRMError, "answered 503 UNKNOWN_EXCEPTION"),
    (400, PermanentCRMError, "answered 400 UNKNOWN_EXCEPTION"),
])
def test_a_failing_query_is_a_crm_error(emu: SalesforceEmulator, org: Org, status: int,
                                        error: type[Exception], said: str) -> None:
    emu.faults.add(status=status, count=1, path_prefix=QUERY)
    with pytest.raises(error, match=said):
        account_timezone(emu.url, org.access_token, timeout=5)


def test_a_dead_session_and_the_daily_limit_are_told_apart() -> None:
    with SalesforceEmulator(api_limit=1) as small:
        org = small.add_org()
        with pytest.raises(PermanentCRMError, match="401 INVALID_SESSION_ID"):
            account_timezone(small.url, "not-a-session", timeout=5)
        assert account_timezone(small.url, org.access_token, timeout=5) == \
            "America/Los_Angeles"  # a new org's default
        with pytest.raises(RetryableCRMError, match="403 REQUEST_LIMIT_EXCEEDED"):
            account_timezone(small.url, org.access_token, timeout=5)


def test_the_account_takes_it_once_and_a_failure_leaves_it_none(
    rt: Runtime, emu: SalesforceEmulator, org: Org, sf_account: AccountView,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def fetch() -> str:
        return account_timezone(emu.url, org.access_token, timeout=5)

    emu.faults.add(status=503, count=1, path_prefix=QUERY)
    with caplog.at_level(logging.WARNING, "connector.services.install"):
        assert take_crm_timezone(rt.db, sf_account.id, "salesforce", fetch) is None
    assert "salesforce's timezone not read, TIMEZONE applies: Salesforce's Organization " \
           "query answered 503" in caplog.text
    assert take_crm_timezone(rt.db, sf_account.id, "salesforce", fetch) == "Asia/Tokyo"
    org.time_zone = "Europe/Madrid"  # a later change in Setup does not overwrite it
    take_crm_timezone(rt.db, sf_account.id, "salesforce", fetch)
    rt.workspaces.forget(sf_account.id)
    with rt.db.session() as session:
        assert rt.workspaces.profile(session, sf_account.id).timezone.key == "Asia/Tokyo"


def test_the_emulated_organization_is_read_only(emu: SalesforceEmulator, org: Org) -> None:
    headers = {"Authorization": f"Bearer {org.access_token}"}
    base = f"{emu.url}/services/data/v59.0/sobjects/Organization"
    created = requests.post(base, json={"Name": "x"}, headers=headers, timeout=5)
    assert (created.status_code, created.json()[0]["errorCode"]) == (
        400, "INVALID_TYPE_FOR_OPERATION")
    deleted = requests.delete(f"{base}/{org.org_id}", headers=headers, timeout=5)
    assert deleted.status_code == 400
    read = requests.get(f"{base}/{org.org_id}", headers=headers, timeout=5)
    assert read.json()["TimeZoneSidKey"] == "Asia/Tokyo"
