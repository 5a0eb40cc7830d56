"""DatabaseCredentialStore on the real database with HubSpot's token endpoint emulated:
one refresh for every worker, the new expiry kept, a refused refresh token disconnects,
installing again reconnects."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from adapters.errors import DisconnectedError, RetryableCRMError
from adapters.hubspot.auth import HubSpotOAuth
from adapters.port import Credentials, TokenGrant
from connector.clock import VirtualClock
from connector.models import Account
from connector.runtime import Runtime
from connector.services.credentials import DatabaseCredentialStore
from connector.services.install import record_hubspot_install
from devcrm.hubspot import HubSpotEmulator

HUB_ID = 5150
REDIRECT = "https://drip.example.com/oauth/hubspot/callback"


@pytest.fixture
def emu() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(client_id="cid", client_secret="secret") as emulator:
        emulator.add_portal(hub_id=HUB_ID)
        yield emulator


@pytest.fixture
def oauth(emu: HubSpotEmulator, rt: Runtime) -> HubSpotOAuth:
    return HubSpotOAuth("cid", "secret", emu.url, emu.url + "/oauth/authorize", 5.0,
                        clock=rt.clock)


@pytest.fixture
def store(rt: Runtime) -> DatabaseCredentialStore:
    return DatabaseCredentialStore(rt.db, rt.vault, rt.clock)


def install(rt: Runtime, emu: HubSpotEmulator, oauth: HubSpotOAuth) -> int:
    grant, hub_id, _ = oauth.exchange_code(emu.issue_code(HUB_ID, redirect_uri=REDIRECT),
                                           REDIRECT)
    return record_hubspot_install(rt.db, rt.vault, rt.settings, hub_id=hub_id, grant=grant,
                                  now=rt.clock.now()).account_id


class Counted:
    """The real exchange, counted, and slow enough that two workers overlap in it."""

    def __init__(self, exchange: HubSpotOAuth) -> None:
        self.exchange = exchange
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, credentials: Credentials) -> TokenGrant:
        with self._lock:
            self.calls += 1
        time.sleep(0.3)
        return self.exchange.refresh(credentials)


def test_two_workers_with_the_same_stale_token_refresh_once(
    rt: Runtime, emu: HubSpotEmulator, oauth: HubSpotOAuth, store: DatabaseCredentialStore
) -> None:
    account_id = install(rt, emu, oauth)
    stale = store.load(account_id)
    exchange = Counted(oauth)
    start = threading.Barrier(2)
    got: list[Credentials] = []
    errors: list[BaseException] = []

    def worker() -> None:
        start.wait()
        try:
            got.append(store.refresh(account_id, stale.access_token, exchange))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert exchange.calls == 1
    assert len(got) == 2 and got[0] == got[1]
    assert got[0].access_token != stale.access_token
    assert store.load(account_id) == got[0]


def test_a_refresh_keeps_the_new_token_and_its_expiry(
    rt: Runtime, emu: HubSpotEmulator, oauth: HubSpotOAuth, store: DatabaseCredentialStore,
    clock: VirtualClock,
) -> None:
    account_id = install(rt, emu, oauth)
    before = store.load(account_id)
    later = clock.advance(timedelta(minutes=29))
    fresh = store.refresh(account_id, before.access_token, oauth.refresh)
    assert fresh.expires_at == later + timedelta(seconds=1800)
    assert fresh.refresh_token == before.refresh_token
    with rt.db.session() as session:
        account = session.get(Account, account_id)
        assert account is not None
        assert account.token_expires_at == fresh.expires_at
        assert fresh.access_token.encode() not in (account.access_token_encrypted or b"")
    assert store.load(account_id) == fresh


def test_a_token_already_replaced_is_not_refreshed_again(
    rt: Runtime, emu: HubSpotEmulator, oauth: HubSpotOAuth, store: DatabaseCredentialStore
) -> None:
    account_id = install(rt, emu, oauth)
    current = store.load(account_id)
    exchange = Counted(oauth)
    assert store.refresh(account_id, "an-older-token", exchange) == current
    assert exchange.calls == 0


def test_a_failed_exchange_that_may_heal_changes_nothing(
    rt: Runtime, emu: HubSpotEmulator, oauth: HubSpotOAuth, store: DatabaseCredentialStore
) -> None:
    account_id = install(rt, emu, oauth)
    before = store.load(account_id)
    emu.faults.add(status=503, count=1, path_prefix="/oauth/2026-03/token")
    with pytest.raises(RetryableCRMError, match="503"):
        store.refresh(account_id, before.access_token, oauth.refresh)
    assert store.load(account_id) == before


def test_a_refused_refresh_token_disconnects_and_installing_again_reconnects(
    rt: Runtime, emu: HubSpotEmulator, oauth: HubSpotOAuth, store: DatabaseCredentialStore
) -> None:
    account_id = install(rt, emu, oauth)
    stale = store.load(account_id)
    emu.revoke(HUB_ID)  # uninstalled in HubSpot
    with pytest.raises(DisconnectedError, match="refresh token"):
        store.refresh(account_id, stale.access_token, oauth.refresh)
    with rt.db.session() as session:
        account = session.get(Account, account_id)
        assert account is not None
        assert account.status == "disconnected"
        assert account.disconnected_at == rt.clock.now()
        assert (account.disconnect_reason or "").startswith("HubSpot refused the refresh token")
        assert (account.access_token_encrypted, account.refresh_token_encrypted,
                account.token_expires_at) == (None, None, None)
    # Every other worker now learns it without asking HubSpot.
    exchange = Counted(oauth)
    with pytest.raises(DisconnectedError, match="disconnected"):
        store.refresh(account_id, stale.access_token, exchange)
    assert exchange.calls == 0
    with pytest.raises(DisconnectedError):
        store.load(account_id)

    assert install(rt, emu, oauth) == account_id
    again = store.load(account_id)
    assert again.access_token != stale.access_token
    with rt.db.session() as session:
        account = session.get(Account, account_id)
        assert account is not None and account.status == "connected"


def test_disconnect_drops_the_tokens_and_keeps_the_reason(
    rt: Runtime, emu: HubSpotEmulator, oauth: HubSpotOAuth, store: DatabaseCredentialStore
) -> None:
    account_id = install(rt, emu, oauth)
    store.disconnect(account_id, "x" * 400)
    with rt.db.session() as session:
        account = session.get(Account, account_id)
        assert account is not None
        assert account.status == "disconnected"
        assert account.disconnect_reason == "x" * 300
        assert account.access_token_encrypted is None
    with pytest.raises(LookupError):
        store.disconnect(account_id + 1, "nobody")


def test_a_token_endpoint_that_hangs_is_retryable(
    rt: Runtime, emu: HubSpotEmulator, store: DatabaseCredentialStore, oauth: HubSpotOAuth
) -> None:
    account_id = install(rt, emu, oauth)
    before = store.load(account_id)
    impatient = HubSpotOAuth("cid", "secret", emu.url, emu.url + "/oauth/authorize", 0.2,
                             clock=rt.clock)
    emu.faults.add(delay=2.0, count=1, path_prefix="/oauth/2026-03/token")
    with pytest.raises(RetryableCRMError, match="timed out"):
        store.refresh(account_id, before.access_token, impatient.refresh)
    assert store.load(account_id) == before
