"""`connector deploy` and `connector accounts set` through the real CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from connector.cli import main
from tests.support.paths import ROOT


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


@pytest.fixture
def workspace(tmp_path: Path, env: dict[str, str]) -> Path:
    connected = run(env, "accounts", "connect", "hubspot", "--portal-id", "7",
                    "--access-token", "pat-x")
    assert "deployed the default workspace as version 1" in connected.output, connected.output
    folder = tmp_path / "ws"
    for part in ("flows", "segments", "templates"):
        shutil.copytree(ROOT / part, folder / part)
    return folder


def test_dry_run_names_the_change_then_deploy_makes_it_live(env: dict[str, str],
                                                            workspace: Path) -> None:
    (workspace / "flows" / "anniversary.yaml").unlink()
    dry = run(env, "deploy", str(workspace), "--account", "1", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "- flow anniversary" in dry.output
    assert "dry run, version 2 would go live (now 1); nothing changed" in dry.output
    assert "anniversary" in run(env, "flows", "status", "--account", "1").output

    live = run(env, "deploy", str(workspace), "--account", "1", "--json")
    assert json.loads(live.output)["flows"]["removed"] == ["anniversary"]
    assert "anniversary" not in run(env, "flows", "status", "--account", "1").output
    again = run(env, "deploy", str(workspace), "--account", "1")
    assert "account 1: unchanged (version 2)" in again.output


def test_a_broken_folder_is_refused_with_file_and_line(env: dict[str, str],
                                                       workspace: Path) -> None:
    (workspace / "flows" / "welcome.yaml").write_text("name: [unclosed\n")
    result = run(env, "deploy", str(workspace), "--account", "1")
    assert result.exit_code == 1
    assert "flows/welcome.yaml:2: YAML syntax error" in result.output
    assert "nothing deployed, the live version is unchanged" in result.output
    listed = json.loads(run(env, "accounts", "list", "--json").output)
    assert listed["workspace_version"] == 1


def test_deploy_wrong_arguments(env: dict[str, str], workspace: Path, tmp_path: Path) -> None:
    assert "Missing option '--account'" in run(env, "deploy", str(workspace)).output
    assert "does not exist" in run(env, "deploy", str(tmp_path / "nope"), "--account",
                                   "1").output
    unknown = run(env, "deploy", str(workspace), "--account", "42")
    assert unknown.exit_code == 1 and "no account 42" in unknown.output


def test_accounts_set_changes_identity_and_refuses_bad_values(env: dict[str, str],
                                                               workspace: Path) -> None:
    ok = run(env, "accounts", "set", "1", "--from", "Acme <hi@acme.example>",
             "--address", "1 Acme Way", "--frequency-cap", "3/7d")
    assert ok.exit_code == 0, ok.output
    assert "from: Acme <hi@acme.example>" in ok.output and "frequency cap: 3/7d" in ok.output
    assert "company: Drip Connector Demo Co. (deployment default)" in ok.output
    listed = json.loads(run(env, "accounts", "list", "--json").output)
    assert (listed["mail_from"], listed["company_address"]) == ("Acme <hi@acme.example>",
                                                                "1 Acme Way")
    for args, message in (
        (["--from", "not an address"], "--from: expected an address"),
        (["--frequency-cap", "3/7days"], "--frequency-cap: expected N/duration"),
        (["--company", "two\nlines"], "--company: one line"),
    ):
        bad = run(env, "accounts", "set", "1", *args)
        assert bad.exit_code == 1 and message in bad.output, bad.output
    assert run(env, "accounts", "set", "1").exit_code == 2  # nothing to set
    assert "no account 9" in run(env, "accounts", "set", "9", "--company", "X").output
    cleared = run(env, "accounts", "set", "1", "--from", "")
    assert "(deployment default)" in cleared.output.splitlines()[1]
