"""An account's timezone on the database: `set_identity` keeps an IANA name and refuses
anything else naming the option, and the profile the services read carries it as a
tzinfo, falling back to the deployment's TIMEZONE."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from connector.runtime import Runtime
from connector.services.accounts import AccountError, AccountView, set_identity
from tests.conftest import MakeRuntime


def profile_zone(rt: Runtime, account_id: int) -> ZoneInfo:
    rt.workspaces.forget(account_id)
    with rt.db.session() as session:
        return rt.workspaces.profile(session, account_id).timezone


def test_the_profile_has_the_accounts_timezone_else_the_deployments(
    make_runtime: MakeRuntime, rt: Runtime, account: AccountView,
) -> None:
    assert profile_zone(rt, account.id) == ZoneInfo("UTC")
    lisbon = make_runtime(timezone="Europe/Lisbon")
    assert profile_zone(lisbon, account.id) == ZoneInfo("Europe/Lisbon")
    with rt.db.session() as session:
        view = set_identity(session, rt.vault, account.id, timezone=" US/Eastern ")
    assert view.timezone == "US/Eastern"  # HubSpot's own spelling is an IANA link
    assert profile_zone(lisbon, account.id) == ZoneInfo("US/Eastern")
    with rt.db.session() as session:
        assert set_identity(session, rt.vault, account.id, timezone="").timezone is None
    assert profile_zone(lisbon, account.id) == ZoneInfo("Europe/Lisbon")


@pytest.mark.parametrize("name", ["Europe/Berln", "localtime", "../../etc/passwd", "+02:00"])
def test_set_identity_refuses_what_is_no_iana_timezone(
    rt: Runtime, account: AccountView, name: str,
) -> None:
    with rt.db.session() as session:
        set_identity(session, rt.vault, account.id, timezone="Asia/Tokyo")
    with rt.db.session() as session, pytest.raises(
            AccountError, match=r"^--timezone: expected an IANA timezone such as Europe/Berlin"):
        set_identity(session, rt.vault, account.id, timezone=name)
    assert profile_zone(rt, account.id) == ZoneInfo("Asia/Tokyo")
