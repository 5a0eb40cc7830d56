"""The Salesforce install (web-server flow with PKCE) through the real app, the real Redis
and the emulated org over real sockets: the authorize redirect, the callback recording the
org from the identity URL with its instance URL and encrypted tokens, reinstalls, refused
and replayed consents; then the adapter connector/crm.py builds for the installed account
reads the org, and a revoked org disconnects the account without the worker path raising."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import select, text

from adapters.errors import DisconnectedError, PermanentCRMError, RetryableCRMError
from adapters.port import Credentials
from adapters.salesforce.auth import s256
from adapters.salesforce.tokens import RefreshGrant
from connector.app import create_app
from connector.models import Account, CrmWriteback, WorkspaceVersion
from connector.runtime import Runtime
from connector.services.accounts import connect_account
from connector.services.contacts import upsert_contact
from connector.services.credentials import DatabaseCredentialStore
from connector.services.sync import reconcile
from connector.services.writeback import flush_writebacks, queue_writeback
from devcrm.salesforce import Org, SalesforceEmulator
from tests.conftest import MakeRuntime

CLIENT_ID, CLIENT_SECRET = "sf-oauth-cid", "sf-oauth-secret"
CALLBACK = "https://drip.example.com/oauth/salesforce/callback"
STATE_KEYS = "oauth:salesforce:state:*"


@pytest.fixture
def emu() -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as emulator:
        yield emulator


@pytest.fixture
def org(emu: SalesforceEmulator) -> Org:
    return emu.add_org()


@pytest.fixture
def oauth_rt(make_runtime: MakeRuntime, emu: SalesforceEmulator) -> Runtime:
    # crm={}: each account gets the adapter connector/crm.py builds, not a stand-in.
    return make_runtime(crm={}, salesforce_client_id=CLIENT_ID,
                        salesforce_client_secret=CLIENT_SECRET, salesforce_login_url=emu.url)


@pytest.fixture
def web(oauth_rt: Runtime) -> FlaskClient:
    return create_app(oauth_rt).test_client()


def login(location: str) -> str:
    """The emulated login approving the authorize URL: the callback's path and query, as
    the admin's browser is sent there."""
    granted = requests.get(location, allow_redirects=False, timeout=5)
    assert granted.status_code == 302, granted.text
    back = urlsplit(granted.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == CALLBACK
    return f"{back.path}?{back.query}"


def consent(web: FlaskClient) -> str:
    started = web.get("/oauth/salesforce/install")
    assert started.status_code == 302, started.text
    return login(started.headers["Location"])


def accounts(rt: Runtime) -> list[Account]:
    with rt.db.session() as session:
        return list(session.scalars(select(Account).order_by(Account.id)))


def test_install_redirects_to_the_login_url_with_state_and_an_s256_challenge(
    web: FlaskClient, emu: SalesforceEmulator, oauth_rt: Runtime
) -> None:
    response = web.get("/oauth/salesforce/install")
    assert response.status_code == 302
    assert response.headers["Cache-Control"] == "no-store"
    url = urlsplit(response.headers["Location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == emu.url + "/services/oauth2/authorize"
    query = {k: v for k, [v] in parse_qs(url.query).items()}
    assert query.keys() == {"response_type", "client_id", "redirect_uri", "scope", "state",
                            "code_challenge", "code_challenge_method"}
    assert (query["response_type"], query["client_id"], query["redirect_uri"]) == (
        "code", CLIENT_ID, CALLBACK)
    assert query["scope"] == "api refresh_token"
    assert "scope=api%20refresh_token" in url.query
    assert query["code_challenge_method"] == "S256"
    state = query["state"]
    assert len(state) >= 32
    key = f"oauth:salesforce:state:{state}"
    assert 0 < oauth_rt.redis.ttl(key) <= 600
    kept = oauth_rt.redis.get(key)
    assert isinstance(kept, bytes)
    verifier = kept.decode()
    assert 43 <= len(verifier) <= 128  # RFC 7636
    assert s256(verifier) == query["code_challenge"]  # only the challenge leaves
    assert verifier not in response.headers["Location"]
    assert CLIENT_SECRET not in response.headers["Location"]


def test_the_callback_records_the_org_with_its_instance_url_encrypted_tokens_and_workspace(
    web: FlaskClient, emu: SalesforceEmulator, org: Org, oauth_rt: Runtime
) -> None:
    response = web.get(consent(web))
    assert response.status_code == 200, response.text
    assert f"Installed for org {org.org_id}" in response.text

    [account] = accounts(oauth_rt)
    assert (account.provider, account.external_id, account.status) == (
        "salesforce", org.org_id, "connected")
    assert len(account.external_id) == 18
    assert account.instance_url == emu.url
    assert account.token_expires_at is None  # Salesforce says none: refreshed on 401
    access = oauth_rt.vault.decrypt(account.access_token_encrypted or b"")
    refresh = oauth_rt.vault.decrypt(account.refresh_token_encrypted or b"")
    assert emu.tokens.lookup(access) == org.org_id  # the org's own, live session
    assert emu.tokens.refresh_owner(refresh) == org.org_id
    assert access not in response.text and refresh not in response.text
    with oauth_rt.db.engine.connect() as connection:
        row = connection.execute(text("SELECT * FROM accounts")).one()
    raw = b"".join(v if isinstance(v, bytes) else str(v).encode() for v in row)
    assert access.encode() not in raw and refresh.encode() not in raw

    assert account.workspace_version == 1
    with oauth_rt.db.session() as session:
        assert session.scalar(select(WorkspaceVersion.account_id)) == account.id
    assert oauth_rt.redis.keys(STATE_KEYS) == []  # the state was spent


def test_the_installed_accounts_adapter_reads_the_org(
    web: FlaskClient, org: Org, oauth_rt: Runtime
) -> None:
    ada = org.create("Contact", {"LastName": "Lovelace", "Email": "ada@example.com"})
    assert web.get(consent(web)).status_code == 200
    [account] = accounts(oauth_rt)
    crm = oauth_rt.crm_for(account)
    [found] = crm.get_contacts(crm_ids=[ada], properties=["Email"])
    assert (found.crm_id, found.email) == (ada, "ada@example.com")


def test_the_installed_accounts_adapter_keeps_to_salesforce_api_share(
    make_runtime: MakeRuntime
) -> None:
    with SalesforceEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                            api_limit=10) as small:
        org = small.add_org()
        ada = org.create("Contact", {"LastName": "Lovelace", "Email": "ada@example.com"})
        rt = make_runtime(crm={}, salesforce_client_id=CLIENT_ID,
                          salesforce_client_secret=CLIENT_SECRET,
                          salesforce_login_url=small.url, salesforce_api_share=0.2)
        web = create_app(rt).test_client()
        assert web.get(consent(web)).status_code == 200
        [account] = accounts(rt)
        crm = rt.crm_for(account)
        # The install's Organization query (its timezone) is the first of the 10; the
        # adapter's two calls make 3: past 20 % after the third answer.
        for _ in range(2):
            crm.get_contacts(crm_ids=[ada], properties=[])
        with pytest.raises(RetryableCRMError, match="past the connector's share"):
            crm.get_contacts(crm_ids=[ada], properties=[])
        assert small.limiter.used(org.org_id) == 3


def test_a_reinstall_reconnects_the_same_account_also_after_a_disconnect(
    web: FlaskClient, org: Org, oauth_rt: Runtime
) -> None:
    assert web.get(consent(web)).status_code == 200
    [first] = accounts(oauth_rt)
    store = DatabaseCredentialStore(oauth_rt.db, oauth_rt.vault, oauth_rt.clock)
    before = store.load(first.id)

    again = web.get(consent(web))
    assert again.status_code == 200, again.text
    assert f"Reconnected for org {org.org_id}" in again.text
    assert store.load(first.id).access_token != before.access_token

    store.disconnect(first.id, "revoked in Setup")
    after = web.get(consent(web))
    assert after.status_code == 200, after.text
    assert f"Reconnected for org {org.org_id}" in after.text
    [account] = accounts(oauth_rt)
    assert (account.id, account.api_key_hash) == (first.id, first.api_key_hash)
    assert (account.status, account.disconnected_at, account.disconnect_reason) == (
        "connected", None, None)
    assert store.load(account.id).refresh_token is not None
    assert account.workspace_version == 1  # not deployed twice


def test_an_org_connected_by_its_15_character_id_is_found_by_the_install(
    web: FlaskClient, emu: SalesforceEmulator, org: Org, oauth_rt: Runtime
) -> None:
    with oauth_rt.db.session() as session:
        view, _ = connect_account(session, oauth_rt.vault, provider="salesforce",
                                  external_id=org.org_id[:15], access_token=org.access_token,
                                  instance_url=emu.url, now=oauth_rt.clock.now())
    response = web.get(consent(web))
    assert response.status_code == 200, response.text
    assert f"Reconnected for org {org.org_id[:15]}" in response.text
    [account] = accounts(oauth_rt)
    assert (account.id, account.external_id) == (view.id, org.org_id[:15])
    assert account.refresh_token_encrypted is not None  # the install's tokens replaced


def test_a_code_obtained_for_another_challenge_is_refused_502_and_nothing_recorded(
    web: FlaskClient, emu: SalesforceEmulator, org: Org, oauth_rt: Runtime
) -> None:
    # A code injected from a login the connector did not start: its challenge is another
    # verifier's, so Salesforce refuses ours (what PKCE is for).
    started = urlsplit(web.get("/oauth/salesforce/install").headers["Location"])
    query = {k: v for k, [v] in parse_qs(started.query).items()}
    query["code_challenge"] = s256("the attacker's own verifier " + "x" * 40)
    response = web.get(login(started._replace(query=urlencode(query)).geturl()))
    assert response.status_code == 502
    assert "invalid_grant" in response.text and "invalid code verifier" in response.text
    assert accounts(oauth_rt) == []


def test_the_token_endpoint_failing_answers_502_and_writes_nothing(
    web: FlaskClient, emu: SalesforceEmulator, org: Org, oauth_rt: Runtime
) -> None:
    callback = consent(web)
    emu.faults.add(status=503, count=1, path_prefix="/services/oauth2/token")
    response = web.get(callback)
    assert response.status_code == 502
    assert "answered 503" in response.text
    assert accounts(oauth_rt) == []


def test_a_replayed_state_is_refused_and_nothing_more_is_written(
    web: FlaskClient, org: Org, oauth_rt: Runtime
) -> None:
    callback = consent(web)
    assert web.get(callback).status_code == 200
    replay = web.get(callback)
    assert replay.status_code == 400
    assert "already used" in replay.text
    assert len(accounts(oauth_rt)) == 1


@pytest.mark.parametrize("query", ["code=abc", "code=abc&state=", "code=abc&state=made-up",
                                   "code=abc&state=" + "s" * 201])
def test_a_missing_or_unknown_state_is_refused(
    web: FlaskClient, oauth_rt: Runtime, query: str
) -> None:
    response = web.get(f"/oauth/salesforce/callback?{query}")
    assert response.status_code == 400
    assert "start the install again" in response.text
    assert accounts(oauth_rt) == []


def test_access_denied_answers_400_with_salesforces_message_and_spends_the_state(
    web: FlaskClient, oauth_rt: Runtime
) -> None:
    started = web.get("/oauth/salesforce/install")
    state = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
    # What Salesforce sends the browser back with when the admin clicks Deny.
    response = web.get("/oauth/salesforce/callback", query_string={
        "error": "access_denied", "error_description": "end-user denied <authorization>",
        "state": state})
    assert response.status_code == 400
    assert "Salesforce did not grant access: end-user denied &lt;authorization&gt;" in (
        response.text)
    assert oauth_rt.redis.keys(STATE_KEYS) == []
    assert accounts(oauth_rt) == []


def test_head_neither_makes_nor_spends_a_state(
    web: FlaskClient, org: Org, oauth_rt: Runtime
) -> None:
    assert web.head("/oauth/salesforce/install").status_code == 200
    assert oauth_rt.redis.keys(STATE_KEYS) == []
    callback = consent(web)
    assert web.head(callback).status_code == 200
    assert accounts(oauth_rt) == []
    assert web.get(callback).status_code == 200  # the state and its code were still good


def test_without_a_consumer_key_both_routes_answer_503_naming_it(
    make_runtime: MakeRuntime
) -> None:
    web = create_app(make_runtime(salesforce_client_id=None)).test_client()
    for path in ("/oauth/salesforce/install", "/oauth/salesforce/callback?code=a&state=b"):
        response = web.get(path)
        assert response.status_code == 503
        assert "SALESFORCE_CLIENT_ID" in response.text


@pytest.mark.parametrize("first", ["writeback", "reconcile"])
def test_a_revoked_org_disconnects_its_account_and_the_worker_path_raises_nothing(
    web: FlaskClient, emu: SalesforceEmulator, org: Org, oauth_rt: Runtime, first: str
) -> None:
    ada = org.create("Contact", {"LastName": "Lovelace", "Email": "ada@example.com"})
    assert web.get(consent(web)).status_code == 200
    [account] = accounts(oauth_rt)
    now = oauth_rt.clock.now()
    with oauth_rt.db.session() as session:
        contact = upsert_contact(session, account.id, email="ada@example.com", crm_id=ada,
                                 properties={}, now=now).contact
        session.flush()
        queue_writeback(session, account_id=account.id, contact_id=contact.id,
                        kind="email_sent", dedup_key="email_sent:m-1",
                        payload={"message": "m-1", "subject": "Welcome", "text": "Hi"},
                        now=now)
    emu.revoke(org)  # an admin revoked the app in Setup: session and refresh token die

    # Whichever CRM job meets the revoked org first (the other then finds the account
    # disconnected), neither raises.
    jobs = [lambda: flush_writebacks(oauth_rt, account.id),
            lambda: reconcile(oauth_rt, account.id).outcome]
    answers = [job() for job in (jobs if first == "writeback" else jobs[::-1])]
    assert sorted(answers, key=str) == sorted([0, "disconnected"], key=str)
    with oauth_rt.db.session() as session:
        revoked = session.get_one(Account, account.id)
        assert revoked.status == "disconnected"
        assert "Salesforce refused the refresh token (invalid_grant" in (
            revoked.disconnect_reason or "")
        assert revoked.access_token_encrypted is None
        # Held for a reinstall, not failed.
        assert session.scalars(select(CrmWriteback.status)).all() == ["pending"]
    assert org.all("Task") == []


def test_a_refresh_refused_for_the_app_itself_keeps_the_orgs_tokens(
    emu: SalesforceEmulator, org: Org
) -> None:
    # A wrong consumer secret is the deployment's mistake: no org is disconnected for it,
    # whereas a revoked refresh token is the org's word.
    refresh_token = emu.tokens.issue_refresh(org.org_id)
    credentials = Credentials(account_id=1, provider="salesforce", external_id=org.org_id,
                              access_token=org.access_token, refresh_token=refresh_token,
                              expires_at=None, instance_url=emu.url)
    wrong = RefreshGrant(login_url=emu.url, client_id=CLIENT_ID, client_secret="not-it")
    with pytest.raises(PermanentCRMError, match="invalid_client") as raised:
        wrong(credentials)
    assert not isinstance(raised.value, DisconnectedError)
    right = RefreshGrant(login_url=emu.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    grant = right(credentials)
    assert emu.tokens.lookup(grant.access_token) == org.org_id
    assert grant.instance_url == emu.url
    emu.revoke(org)
    with pytest.raises(DisconnectedError, match="invalid_grant"):
        right(credentials)
