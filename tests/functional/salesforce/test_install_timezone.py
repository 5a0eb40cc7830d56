"""The Salesforce install takes the org's default timezone (SELECT TimeZoneSidKey FROM
Organization) for an account without one; an org that cannot say leaves it none, the
install succeeding. The real app, Redis and the emulated org over real sockets."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import select

from connector.app import create_app
from connector.models import Account
from connector.runtime import Runtime
from connector.services.accounts import set_identity
from devcrm.salesforce import Org, SalesforceEmulator
from tests.conftest import MakeRuntime

CLIENT_ID, CLIENT_SECRET = "sf-tz-cid", "sf-tz-secret"
QUERY = "/services/data/v59.0/query"


@pytest.fixture
def emu() -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as emulator:
        yield emulator


@pytest.fixture
def org(emu: SalesforceEmulator) -> Org:
    return emu.add_org(time_zone="Asia/Tokyo")


@pytest.fixture
def oauth_rt(make_runtime: MakeRuntime, emu: SalesforceEmulator) -> Runtime:
    return make_runtime(crm={}, salesforce_client_id=CLIENT_ID,
                        salesforce_client_secret=CLIENT_SECRET, salesforce_login_url=emu.url)


@pytest.fixture
def web(oauth_rt: Runtime) -> FlaskClient:
    return create_app(oauth_rt).test_client()


def install(web: FlaskClient) -> int:
    """The whole install, the emulated login approving; the callback's status."""
    started = web.get("/oauth/salesforce/install")
    granted = requests.get(started.headers["Location"], allow_redirects=False, timeout=5)
    back = urlsplit(granted.headers["Location"])
    response = web.get(f"{back.path}?{back.query}")
    assert "org" in response.text, response.text
    return response.status_code


def account_timezone(rt: Runtime) -> str | None:
    with rt.db.session() as session:
        return session.scalars(select(Account.timezone)).one()


def queries(emu: SalesforceEmulator) -> int:
    return sum(1 for _m, path, _s, _o in emu.requests if path == QUERY)


def test_the_install_takes_the_orgs_timezone(
    web: FlaskClient, emu: SalesforceEmulator, org: Org, oauth_rt: Runtime,
) -> None:
    assert install(web) == 200
    assert account_timezone(oauth_rt) == "Asia/Tokyo"
    assert queries(emu) == 1 and emu.limiter.used(org.org_id) == 1  # one API request


def test_a_reinstall_keeps_the_timezone_the_account_has_and_does_not_ask(
    web: FlaskClient, emu: SalesforceEmulator, org: Org, oauth_rt: Runtime,
) -> None:
    assert install(web) == 200
    with oauth_rt.db.session() as session:
        account = session.scalars(select(Account.id)).one()
        set_identity(session, oauth_rt.vault, account, timezone="Europe/Madrid")
    org.time_zone = "America/Chicago"  # changed in Setup since: the account's own stays
    assert install(web) == 200
    assert account_timezone(oauth_rt) == "Europe/Madrid"
    assert queries(emu) == 1


@pytest.mark.parametrize(("status", "said"), [
    (503, "answered 503 UNKNOWN_EXCEPTION"), (404, "answered 404 UNKNOWN_EXCEPTION")])
def test_an_org_that_cannot_say_leaves_the_deployment_default_and_installs(
    web: FlaskClient, emu: SalesforceEmulator, org: Org, oauth_rt: Runtime,
    caplog: pytest.LogCaptureFixture, status: int, said: str,
) -> None:
    emu.faults.add(status=status, count=1, path_prefix=QUERY)
    with caplog.at_level(logging.WARNING, "connector.services.install"):
        assert install(web) == 200
    assert account_timezone(oauth_rt) is None
    assert f"salesforce's timezone not read, TIMEZONE applies: Salesforce's Organization " \
           f"query {said}" in caplog.text
    with oauth_rt.db.session() as session:
        assert session.scalars(select(Account.workspace_version)).one() == 1  # installed


def test_the_emulated_organization_is_read_only(emu: SalesforceEmulator, org: Org) -> None:
    headers = {"Authorization": f"Bearer {org.access_token}"}
    base = f"{emu.url}/services/data/v59.0/sobjects/Organization"
    created = requests.post(base, json={"Name": "x"}, headers=headers, timeout=5)
    assert created.status_code == 400
    assert created.json()[0]["errorCode"] == "INVALID_TYPE_FOR_OPERATION"
    read = requests.get(f"{base}/{org.org_id}", headers=headers, timeout=5)
    assert read.json()["TimeZoneSidKey"] == "Asia/Tokyo"
