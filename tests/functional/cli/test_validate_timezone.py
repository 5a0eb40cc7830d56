"""`campaigns validate` and `flows validate` read a send_at without an offset in the
account's timezone (`--account`), else in the deployment's TIMEZONE, and name the zone."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner, Result

from connector.cli import main
from tests.support.paths import ROOT


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def workspace_with_send_at(tmp_path: Path, zone: str) -> tuple[Path, str]:
    """A copy of the repo's workspace with a campaign whose naive send_at is in half an
    hour's time in `zone`: hours ahead in a zone west of it, long past in one east."""
    folder = tmp_path / "ws"
    for part in ("flows", "segments", "templates"):
        shutil.copytree(ROOT / part, folder / part)
    at = (datetime.now(UTC) + timedelta(minutes=30)).astimezone(ZoneInfo(zone))
    written = at.replace(tzinfo=None).isoformat(timespec="minutes")
    (folder / "campaigns").mkdir()
    (folder / "campaigns" / "soon.yaml").write_text(
        f"name: Soon\ntemplate: seasonal-sale\naudience: {{list: newsletter}}\n"
        f"send_at: {written}\n")
    return folder, written


def test_campaigns_validate_reads_send_at_in_the_accounts_timezone(
    env: dict[str, str], tmp_path: Path,
) -> None:
    folder, written = workspace_with_send_at(tmp_path, "UTC")
    env = {**env, "TEMPLATES_DIR": str(folder / "templates"),
           "SEGMENTS_DIR": str(folder / "segments")}
    assert run(env, "accounts", "connect", "hubspot", "--portal-id", "7",
               "--access-token", "pat-x").exit_code == 0
    campaigns = str(folder / "campaigns")
    assert run(env, "campaigns", "validate", campaigns).exit_code == 0  # TIMEZONE: UTC
    assert run(env, "campaigns", "validate", "--account", "1", campaigns).exit_code == 0
    assert run(env, "accounts", "set", "1", "--timezone", "Asia/Tokyo").exit_code == 0
    late = run(env, "campaigns", "validate", "--account", "1", campaigns)
    assert late.exit_code == 1
    assert f"send_at: {written} (Asia/Tokyo) is in the past" in late.output
    west = run(env, "accounts", "set", "1", "--timezone", "America/Los_Angeles")
    assert west.exit_code == 0
    assert run(env, "campaigns", "validate", "--account", "1", campaigns).exit_code == 0
    # Without an account: the deployment's TIMEZONE.
    east = run({**env, "TIMEZONE": "Asia/Tokyo"}, "campaigns", "validate", campaigns)
    assert east.exit_code == 1 and "(Asia/Tokyo) is in the past" in east.output


def test_flows_validate_reads_a_workspaces_send_at_in_the_deployments_timezone(
    env: dict[str, str], tmp_path: Path,
) -> None:
    folder, written = workspace_with_send_at(tmp_path, "UTC")
    env = {**env, "TEMPLATES_DIR": str(folder / "templates"),
           "SEGMENTS_DIR": str(folder / "segments")}
    flows = str(folder / "flows")
    assert run({**env, "TIMEZONE": "America/Los_Angeles"}, "flows", "validate",
               flows).exit_code == 0
    late = run({**env, "TIMEZONE": "Asia/Tokyo"}, "flows", "validate", flows)
    assert late.exit_code == 1
    assert f"send_at: {written} (Asia/Tokyo) is in the past" in late.output
