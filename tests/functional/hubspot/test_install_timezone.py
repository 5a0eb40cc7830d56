"""The HubSpot install takes the portal's timezone (account-info's `timeZone`) for an
account without one; a portal that cannot say leaves it none, the install succeeding.
The real app, Redis and the emulator over real sockets."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import select

from connector.app import create_app
from connector.models import Account
from connector.runtime import Runtime
from connector.services.accounts import connect_account, set_identity
from connector.services.install import take_crm_timezone
from devcrm.hubspot import HubSpotEmulator
from tests.conftest import MakeRuntime

HUB_ID = 4712


@pytest.fixture
def emu() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(client_id="cid-tz", client_secret="secret-tz") as emulator:
        emulator.add_portal(hub_id=HUB_ID, time_zone="Europe/Berlin")
        yield emulator


@pytest.fixture
def oauth_rt(make_runtime: MakeRuntime, emu: HubSpotEmulator) -> Runtime:
    return make_runtime(hubspot_client_id="cid-tz", hubspot_client_secret="secret-tz",
                        hubspot_api_base=emu.url, hubspot_auth_url=emu.url + "/oauth/authorize")


@pytest.fixture
def web(oauth_rt: Runtime) -> FlaskClient:
    return create_app(oauth_rt).test_client()


def install(web: FlaskClient) -> int:
    """The whole install, the emulator's consent screen answering; the callback's status."""
    started = web.get("/oauth/hubspot/install")
    granted = requests.get(started.headers["Location"], allow_redirects=False, timeout=5)
    back = granted.headers["Location"].split("drip.example.com", 1)[1]
    response = web.get(back)
    assert "portal" in response.text, response.text
    return response.status_code


def account_timezone(rt: Runtime) -> str | None:
    with rt.db.session() as session:
        return session.scalars(select(Account.timezone)).one()


def details_calls(emu: HubSpotEmulator) -> int:
    return sum(1 for _m, path, _s, _h in emu.requests if path == "/account-info/v3/details")


def test_the_install_takes_the_portals_timezone(
    web: FlaskClient, emu: HubSpotEmulator, oauth_rt: Runtime,
) -> None:
    assert install(web) == 200
    assert account_timezone(oauth_rt) == "Europe/Berlin"
    with oauth_rt.db.session() as session:
        account = session.scalars(select(Account.id)).one()
        oauth_rt.workspaces.forget(account)
        assert oauth_rt.workspaces.profile(session, account).timezone.key == "Europe/Berlin"


def test_a_reinstall_keeps_the_timezone_the_account_has_and_does_not_ask(
    web: FlaskClient, emu: HubSpotEmulator, oauth_rt: Runtime,
) -> None:
    assert install(web) == 200
    with oauth_rt.db.session() as session:
        account = session.scalars(select(Account.id)).one()
        set_identity(session, oauth_rt.vault, account, timezone="America/Denver")
    assert install(web) == 200
    assert account_timezone(oauth_rt) == "America/Denver"
    assert details_calls(emu) == 1  # the first install's only


@pytest.mark.parametrize("status", [401, 503])
def test_a_portal_that_cannot_say_leaves_the_deployment_default_and_installs(
    web: FlaskClient, emu: HubSpotEmulator, oauth_rt: Runtime, status: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emu.faults.add(status=status, count=1, path_prefix="/account-info/")
    with caplog.at_level(logging.WARNING, "connector.services.install"):
        assert install(web) == 200
    assert account_timezone(oauth_rt) is None
    assert f"hubspot's timezone not read, TIMEZONE applies: HubSpot's account details " \
           f"answered {status}" in caplog.text
    # The next install asks again, and takes it.
    assert install(web) == 200
    assert account_timezone(oauth_rt) == "Europe/Berlin"


def test_a_timezone_that_is_no_iana_zone_is_not_taken(
    oauth_rt: Runtime, caplog: pytest.LogCaptureFixture,
) -> None:
    with oauth_rt.db.session() as session:
        view, _ = connect_account(session, oauth_rt.vault, provider="hubspot",
                                  external_id=str(HUB_ID), access_token="pat-x",
                                  now=oauth_rt.clock.now())
    with caplog.at_level(logging.WARNING, "connector.services.install"):
        taken = take_crm_timezone(oauth_rt.db, view.id, "hubspot", lambda: "Mars/Base")
    assert taken is None and account_timezone(oauth_rt) is None
    assert ("hubspot's timezone not taken, TIMEZONE applies: expected an IANA timezone "
            "such as Europe/Berlin, got 'Mars/Base'") in caplog.text
