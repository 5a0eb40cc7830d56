"""`connector campaigns validate`, and campaigns in `flows validate` and `deploy`, through
the real CLI on the repo's definitions and a database of the test's own."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from connector.cli import main
from connector.db import Database
from connector.models import Contact, ListMembership, WorkspaceVersion
from tests.support.paths import ROOT

BAD = (
    "name: Bad\n"
    "template: seasonal-sal\n"
    "audience:\n"
    "  rule: {property: email, contains: shop}\n"
    "throttle: 2000/h\n"
)
LATE = "name: Late\ntemplate: seasonal-sale\naudience: {segment: vip}\nsend_at: 2020-01-01T09:00\n"


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    for part in ("flows", "segments", "templates", "campaigns"):
        shutil.copytree(ROOT / part, folder / part)
    return folder


@pytest.fixture
def account(env: dict[str, str]) -> int:
    connected = run(env, "accounts", "connect", "hubspot", "--portal-id", "7",
                    "--access-token", "pat-x")
    assert "deployed the default workspace as version 1" in connected.output, connected.output
    return 1


def test_the_shipped_campaigns_validate(env: dict[str, str]) -> None:
    result = run(env, "campaigns", "validate")
    assert result.exit_code == 0, result.output
    assert "ok  spring-sale  (template seasonal-sale to segment engaged, version " in result.output
    assert "ok  weekend-ab  (2 variants to segment customers, version " in result.output
    assert result.output.rstrip().endswith("2 campaign(s) valid, 0 warning(s)")


def test_errors_name_file_and_line_and_fail(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(BAD)
    (tmp_path / "late.yaml").write_text(LATE)
    result = run(env, "campaigns", "validate", str(tmp_path))
    assert result.exit_code == 1
    out = result.output
    assert f"{tmp_path / 'bad.yaml'}:2: error: template: no template 'seasonal-sal'" in out
    assert f"{tmp_path / 'bad.yaml'}:4: error: audience: rule: cannot be resolved in SQL" in out
    assert f"{tmp_path / 'late.yaml'}:4: error: send_at: 2020-01-01T09:00 (UTC) is in the past" \
        in out
    assert "failed  bad" in out and "failed  late" in out
    assert "Error: 3 error(s), 0 warning(s)" in out


def test_schema_errors_come_first(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(BAD)
    (tmp_path / "broken.yaml").write_text("name: Broken\ntemplate: t\naudience: {segmnt: x}\n")
    result = run(env, "campaigns", "validate", str(tmp_path))
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        f"{tmp_path / 'broken.yaml'}:3: audience: unknown key 'segmnt' (did you mean "
        "'segment'?)")
    # As for flows, the lints wait until every file parses.
    assert "Error: 1 error(s), 0 warning(s)" in result.output


def test_one_file(env: dict[str, str]) -> None:
    result = run(env, "campaigns", "validate", str(ROOT / "campaigns" / "weekend-ab.yaml"))
    assert result.exit_code == 0, result.output
    assert "1 campaign(s) valid" in result.output


def test_wrong_arguments(env: dict[str, str], tmp_path: Path) -> None:
    missing = run(env, "campaigns", "validate", str(tmp_path / "nope"))
    assert missing.exit_code == 2 and "does not exist" in missing.output
    word = run(env, "campaigns", "validate", "--account", "one")
    assert word.exit_code == 2 and "'one' is not a valid integer" in word.output
    unknown = run(env, "campaigns", "validate", "--bogus")
    assert unknown.exit_code == 2 and "No such option '--bogus'" in unknown.output


def test_no_campaigns_folder_beside_the_flows(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    alone = run({**env, "FLOWS_DIR": str(tmp_path / "flows")}, "campaigns", "validate")
    assert alone.exit_code == 1
    assert f"no campaigns folder {tmp_path / 'campaigns'} (give PATH)" in alone.output


def test_with_an_account_lists_nobody_is_in_warn(env: dict[str, str], account: int,
                                                 tmp_path: Path) -> None:
    (tmp_path / "news.yaml").write_text(
        "name: News\ntemplate: seasonal-sale\naudience:\n  list: newsletter\n"
        "  exclude: [{list: staff}]\n")
    db = Database(env["DATABASE_URL"])
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with db.session() as session:
        contact = Contact(account_id=account, email="a@example.com", properties={},
                          created_at=now, updated_at=now)
        session.add(contact)
        session.flush()
        session.add(ListMembership(account_id=account, contact_id=contact.id,
                                   list_key="newsletter", added_at=now))
    db.dispose()
    result = run(env, "campaigns", "validate", "--account", str(account), str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (f"{tmp_path / 'news.yaml'}:5: warning: audience: exclude: list: no contact of the "
            "account is in list 'staff' (yet)") in result.output
    assert "newsletter' (yet)" not in result.output
    assert "1 campaign(s) valid, 1 warning(s)" in result.output
    # Without an account the lists are not checked, and no database is needed.
    assert "0 warning(s)" in run(env, "campaigns", "validate", str(tmp_path)).output
    unknown = run(env, "campaigns", "validate", "--account", "99", str(tmp_path))
    assert unknown.exit_code == 1 and "Error: no account 99" in unknown.output


def test_flows_validate_reports_the_workspaces_campaigns(env: dict[str, str],
                                                         workspace: Path) -> None:
    good = run(env, "flows", "validate", str(workspace / "flows"))
    assert good.exit_code == 0, good.output
    assert "8 flow(s) valid, 2 campaign(s) valid, 0 warning(s)" in good.output
    (workspace / "campaigns" / "bad.yaml").write_text(BAD)
    bad = run(env, "flows", "validate", str(workspace / "flows"))
    assert bad.exit_code == 1
    assert f"{workspace / 'campaigns' / 'bad.yaml'}:2: error: template: no template" in bad.output
    # One flow file is checked alone.
    alone = run(env, "flows", "validate", str(workspace / "flows" / "welcome.yaml"))
    assert alone.exit_code == 0 and "campaign" not in alone.output


SHIPPED = ["campaigns/spring-sale.yaml", "campaigns/weekend-ab.yaml"]


def versions(env: dict[str, str]) -> list[tuple[int, list[str]]]:
    db = Database(env["DATABASE_URL"])
    with db.session() as session:
        rows = session.execute(
            select(WorkspaceVersion.version, WorkspaceVersion.files).order_by(
                WorkspaceVersion.version)).all()
        found = [(version, sorted(p for p in files if p.startswith("campaigns/")))
                 for version, files in rows]
        assert session.scalar(select(func.count()).select_from(WorkspaceVersion)) == len(found)
    db.dispose()
    return found


def test_deploy_takes_the_campaigns_along(env: dict[str, str], account: int,
                                          workspace: Path) -> None:
    # A new account gets the repo's campaigns with the rest of its workspace.
    assert versions(env) == [(1, SHIPPED)]
    (workspace / "campaigns" / "weekend-ab.yaml").unlink()
    result = run(env, "deploy", str(workspace), "--account", str(account))
    assert result.exit_code == 0, result.output
    assert versions(env)[-1] == (2, ["campaigns/spring-sale.yaml"])


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("bad", BAD, ["campaigns/bad.yaml:2: error: template: no template 'seasonal-sal'",
                  "campaigns/bad.yaml:4: error: audience: rule: cannot be resolved in SQL"]),
    ("late", LATE, ["campaigns/late.yaml:4: error: send_at: 2020-01-01T09:00 (UTC) is in the "
                    "past"]),
    ("broken", "name: [\n", ["campaigns/broken.yaml:2: YAML syntax error"]),
])
@pytest.mark.parametrize("dry_run", [False, True])
def test_deploy_refuses_a_bad_campaign_and_changes_nothing(
    env: dict[str, str], account: int, workspace: Path, name: str, text: str,
    expected: list[str], dry_run: bool,
) -> None:
    (workspace / "campaigns" / f"{name}.yaml").write_text(text)
    (workspace / "flows" / "anniversary.yaml").unlink()  # a change that must not go live
    result = run(env, "deploy", str(workspace), "--account", str(account),
                 *(["--dry-run"] if dry_run else []))
    assert result.exit_code == 1
    for line in expected:
        assert line in result.output
    assert f"{len(expected)} error(s): nothing deployed, the live version is unchanged" in (
        result.output)
    listed = json.loads(run(env, "accounts", "list", "--json").output)
    assert listed["workspace_version"] == 1
    assert versions(env) == [(1, SHIPPED)]
    assert "anniversary" in run(env, "flows", "status", "--account", str(account)).output


def test_a_late_campaign_and_other_errors_are_reported_together(
    env: dict[str, str], account: int, workspace: Path
) -> None:
    (workspace / "campaigns" / "late.yaml").write_text(LATE)
    (workspace / "flows" / "welcome.yaml").write_text("name: [unclosed\n")
    result = run(env, "deploy", str(workspace), "--account", str(account))
    assert result.exit_code == 1
    assert "flows/welcome.yaml:2: YAML syntax error" in result.output
    assert "campaigns/late.yaml:4: error: send_at" in result.output
    assert "2 error(s): nothing deployed" in result.output
