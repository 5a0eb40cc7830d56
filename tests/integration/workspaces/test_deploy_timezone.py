"""A deploy checks a send_at without an offset in the account's timezone: one still ahead
in UTC but past in the account's zone is refused, naming that zone."""

from __future__ import annotations

import pytest

from connector.runtime import Runtime
from connector.services.accounts import AccountView, set_identity
from connector.workspaces import WorkspaceError, deploy_files, read_workspace
from tests.support.paths import ROOT

# The virtual clock starts at 2026-01-05 09:00 UTC: 04:00 in New York, 18:00 in Tokyo.
AT_NOON = "name: C\ntemplate: seasonal-sale\naudience: {list: newsletter}\n" \
          "send_at: 2026-01-05T12:00\n"


def files() -> dict[str, str]:
    workspace = read_workspace(ROOT / "flows", ROOT / "segments", ROOT / "templates")
    return {**workspace, "campaigns/c.yaml": AT_NOON}


def in_zone(rt: Runtime, account_id: int, name: str) -> None:
    with rt.db.session() as session:
        set_identity(session, rt.vault, account_id, timezone=name)


def test_a_deploy_reads_send_at_in_the_accounts_timezone(rt: Runtime,
                                                         account: AccountView) -> None:
    in_zone(rt, account.id, "Asia/Tokyo")
    with pytest.raises(WorkspaceError, match=r"campaigns/c.yaml:4: error: send_at: "
                       r"2026-01-05T12:00 \(Asia/Tokyo\) is in the past"):
        deploy_files(rt.db, rt.settings, account.id, files(), now=rt.clock.now())
    in_zone(rt, account.id, "America/New_York")
    report = deploy_files(rt.db, rt.settings, account.id, files(), now=rt.clock.now())
    assert report.version == 2


def test_without_its_own_the_deploy_reads_it_in_the_deployments_timezone(
    rt: Runtime, account: AccountView,
) -> None:
    tokyo = rt.settings.model_copy(update={"timezone": "Asia/Tokyo"})
    with pytest.raises(WorkspaceError, match=r"\(Asia/Tokyo\) is in the past"):
        deploy_files(rt.db, tokyo, account.id, files(), now=rt.clock.now())
    assert deploy_files(rt.db, rt.settings, account.id, files(),
                        now=rt.clock.now()).version == 2
