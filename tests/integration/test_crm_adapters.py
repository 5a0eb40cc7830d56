"""Each account gets its own adapter, by provider, built from its stored credentials."""

from __future__ import annotations

from adapters.hubspot.adapter import HubSpotCRM
from adapters.memory import InMemoryCRM
from adapters.salesforce.adapter import SalesforceCRM
from adapters.standalone import StandaloneCRM
from connector.models import Account
from connector.services.accounts import connect_account
from tests.conftest import MakeRuntime


def test_accounts_get_their_providers_adapter_once_each(make_runtime: MakeRuntime) -> None:
    rt = make_runtime(crm={})
    with rt.db.session() as session:
        connect_account(session, rt.vault, provider="hubspot", external_id="11",
                        access_token="pat-a", now=rt.clock.now())
        connect_account(session, rt.vault, provider="salesforce",
                        external_id="00D5g000004ABCDEA4", access_token="00D!x",
                        instance_url="https://acme.my.salesforce.com", now=rt.clock.now())
        connect_account(session, rt.vault, provider="local", external_id="shop",
                        access_token="-", now=rt.clock.now())
    with rt.db.session() as session:
        accounts = {a.provider: a for a in session.query(Account)}
        adapters = {p: rt.crm_for(a) for p, a in accounts.items()}
        again = rt.crm_for(accounts["hubspot"])
    assert isinstance(adapters["hubspot"], HubSpotCRM)
    assert isinstance(adapters["salesforce"], SalesforceCRM)
    assert isinstance(adapters["local"], StandaloneCRM)  # keeps nothing of what it is told
    assert again is adapters["hubspot"]  # cached per account


def test_pinned_adapters_serve_every_account_of_their_provider(
    make_runtime: MakeRuntime
) -> None:
    pinned = InMemoryCRM()
    rt = make_runtime(crm={"salesforce": pinned})
    with rt.db.session() as session:
        connect_account(session, rt.vault, provider="salesforce",
                        external_id="00D5g000004ABCDEA4", access_token="00D!x",
                        instance_url="https://acme.my.salesforce.com", now=rt.clock.now())
        account = session.query(Account).one()
        assert rt.crm_for(account) is pinned
