"""Deploying workspaces the way `connector deploy` does, from folders a test builds."""

from __future__ import annotations

import shutil
from pathlib import Path

from connector.runtime import Runtime
from connector.workspaces import DeployReport, build_workspace, deploy_files, read_workspace
from connector.workspaces.deploy import activate
from tests.support.paths import ROOT


def deploy(
    rt: Runtime,
    account_id: int,
    *,
    flows: Path | None = None,
    segments: Path | None = None,
    templates: Path | None = None,
) -> DeployReport:
    """Deploy these folders (the repo's own for those not given; the campaigns beside the
    flows, as `deploy_default` reads them) to the account."""
    flows = flows or ROOT / "flows"
    files = read_workspace(flows, segments or ROOT / "segments", templates or ROOT / "templates",
                           flows.parent / "campaigns")
    report = deploy_files(rt.db, rt.settings, account_id, files, now=rt.clock.now())
    rt.workspaces.forget(account_id)
    return report


def copy_of_repo_workspace(target: Path) -> Path:
    """A copy of the repo's flows/, segments/, templates/ and campaigns/ to change in a test."""
    for part in ("flows", "segments", "templates", "campaigns"):
        shutil.copytree(ROOT / part, target / part)
    return target


def use_flows(rt: Runtime, account_id: int, tmp_path: Path, *, lint: bool = True, **flows: str
              ) -> DeployReport:
    """Deploy exactly these flows (key -> YAML) beside the repo's segments and templates.

    `lint=False` makes live what deploy would refuse (a loop without a wait): how the run
    time guards against it is under test, and only the schema is checked."""
    directory = tmp_path / "flows"
    directory.mkdir(exist_ok=True)
    for stale in directory.glob("*.yaml"):
        stale.unlink()
    for key, text in flows.items():
        (directory / f"{key}.yaml").write_text(text)
    if lint:
        return deploy(rt, account_id, flows=directory)
    files = read_workspace(directory, ROOT / "segments", ROOT / "templates")
    report = activate(rt.db, account_id, build_workspace(files), now=rt.clock.now())
    rt.workspaces.forget(account_id)
    return report
