"""`connector accounts set --timezone` and `accounts show` through the real CLI: an IANA
zone is kept, "" clears it back to the deployment's TIMEZONE, an unknown one is a usage
error naming the close ones and changes nothing."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner, Result

from connector.cli import main


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


@pytest.fixture
def connected(env: dict[str, str]) -> dict[str, str]:
    made = run(env, "accounts", "connect", "hubspot", "--portal-id", "7", "--access-token",
               "pat-x")
    assert made.exit_code == 0, made.output
    return env


def shown_timezone(env: dict[str, str]) -> object:
    shown = run(env, "accounts", "show", "1", "--json")
    assert shown.exit_code == 0, shown.output
    return json.loads(shown.output)["timezone"]


def test_set_show_and_clear_an_accounts_timezone(connected: dict[str, str]) -> None:
    env = connected
    assert "  timezone: UTC (deployment default)" in run(env, "accounts", "show", "1").output
    assert shown_timezone(env) is None

    berlin = run(env, "accounts", "set", "1", "--timezone", "Europe/Berlin")
    assert berlin.exit_code == 0, berlin.output
    assert "  timezone: Europe/Berlin" in berlin.output
    assert "  timezone: Europe/Berlin" in run(env, "accounts", "show", "1").output
    assert shown_timezone(env) == "Europe/Berlin"
    listed = json.loads(run(env, "accounts", "list", "--json").output)
    assert listed["timezone"] == "Europe/Berlin"

    cleared = run(env, "accounts", "set", "1", "--timezone", "")
    assert cleared.exit_code == 0, cleared.output
    assert "  timezone: UTC (deployment default)" in cleared.output
    assert shown_timezone(env) is None


def test_the_deployment_default_is_the_timezone_setting(connected: dict[str, str]) -> None:
    env = {**connected, "TIMEZONE": "America/Chicago"}
    assert ("  timezone: America/Chicago (deployment default)"
            in run(env, "accounts", "show", "1").output)


@pytest.mark.parametrize(("given", "close"), [
    ("Europe/Berln", "Europe/Berlin"),
    ("america/new_york", "America/New_York"),
    ("Kolkata", "Asia/Kolkata"),
    ("Mars/Olympus_Mons", None),
])
def test_an_unknown_timezone_is_a_usage_error_naming_close_ones(
    connected: dict[str, str], given: str, close: str | None,
) -> None:
    env = connected
    run(env, "accounts", "set", "1", "--timezone", "Asia/Tokyo")
    bad = run(env, "accounts", "set", "1", "--timezone", given, "--company", "Not Kept")
    assert bad.exit_code == 2, bad.output
    assert (f"Invalid value for '--timezone': expected an IANA timezone such as "
            f"Europe/Berlin, got {given!r}") in bad.output
    if close is None:
        assert "did you mean" not in bad.output
    else:
        assert f"(did you mean {close}" in bad.output
    shown = json.loads(run(env, "accounts", "show", "1", "--json").output)
    assert (shown["timezone"], shown["company_name"]) == ("Asia/Tokyo", None)


def test_show_an_unknown_account_and_a_bad_timezone_setting(connected: dict[str, str]) -> None:
    missing = run(connected, "accounts", "show", "9")
    assert missing.exit_code == 1 and "no account 9" in missing.output
    bad = run({**connected, "TIMEZONE": "Europe/Brlin"}, "accounts", "show", "1")
    assert bad.exit_code != 0
    assert "TIMEZONE" in bad.output and "did you mean Europe/Berlin" in bad.output
