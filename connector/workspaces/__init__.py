"""Workspaces: each account's own flows, segments and templates, deployed as a versioned
folder, built once per version in each process and looked up by account on every job."""

from connector.workspaces.build import Checked, Workspace, build_workspace, check_workspace
from connector.workspaces.deploy import (
    Changes,
    DeployReport,
    deploy_default,
    deploy_files,
)
from connector.workspaces.files import WorkspaceError, read_folder, read_workspace
from connector.workspaces.live import Live, Profile, SendingIdentity, Workspaces
from connector.workspaces.registry import FlowRegistry
from connector.workspaces.usage import properties_used

__all__ = [
    "Changes",
    "Checked",
    "DeployReport",
    "FlowRegistry",
    "Live",
    "Profile",
    "SendingIdentity",
    "Workspace",
    "WorkspaceError",
    "Workspaces",
    "build_workspace",
    "check_workspace",
    "deploy_default",
    "deploy_files",
    "properties_used",
    "read_folder",
    "read_workspace",
]
