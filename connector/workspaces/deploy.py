"""`connector deploy`: check a whole workspace and make it an account's live definitions in
one transaction (all or nothing, versioned, the previous version kept), or with a dry run
say what would change without changing anything."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from connector.db import Database
from connector.engine.flows import Flow, flow_from_dict, flow_to_dict, migrate_cursor
from connector.models import (
    Account,
    CampaignRun,
    Enrollment,
    FlowVersion,
    ScheduledTrigger,
    WorkspaceVersion,
)
from connector.settings import Settings
from connector.workspaces.build import (
    Workspace,
    build_workspace,
    check_workspace,
    read_catalogue,
)
from connector.workspaces.campaigns import send_time_errors
from connector.workspaces.files import (
    CAMPAIGNS,
    CATALOGUE,
    SEGMENTS,
    TEMPLATES,
    WorkspaceError,
    digest,
    part,
    read_workspace,
)
from connector.workspaces.live import account_timezone


@dataclass(frozen=True)
class Changes:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def as_json(self) -> dict[str, list[str]]:
        return {"added": self.added, "changed": self.changed, "removed": self.removed}


@dataclass(frozen=True)
class DeployReport:
    account_id: int
    dry_run: bool
    previous_version: int | None
    version: int | None  # live after the deploy (would be, for a dry run)
    flows: Changes
    segments: Changes
    templates: Changes
    # Active enrollments by flow: moving to the new version at their next step (by step
    # id), staying on the version they run (their step is gone), exiting (flow removed).
    migrating: dict[str, int]
    staying: dict[str, int]
    exiting: dict[str, int]
    warnings: list[str]

    @property
    def unchanged(self) -> bool:
        return self.version == self.previous_version

    def as_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "dry_run": self.dry_run,
            "unchanged": self.unchanged,
            "previous_version": self.previous_version,
            "version": self.version,
            "flows": self.flows.as_json(),
            "segments": self.segments.as_json(),
            "templates": self.templates.as_json(),
            "enrollments": {
                "migrating": self.migrating,
                "staying": self.staying,
                "exiting": self.exiting,
            },
            "warnings": self.warnings,
        }

    def lines(self) -> list[str]:
        """What a person reads: each change, then the enrollments it moves."""
        verb = "would" if self.dry_run else "will"
        out = [f"warning: {w}" for w in self.warnings]
        for noun, changes in (
            ("flow", self.flows),
            ("segment", self.segments),
            ("template", self.templates),
        ):
            out += [f"+ {noun} {key}" for key in changes.added]
            out += [f"~ {noun} {key}" for key in changes.changed]
            out += [f"- {noun} {key}" for key in changes.removed]
        out += [f"  {n} enrollment(s) in {k} {verb} move to the new version"
                for k, n in sorted(self.migrating.items())]
        out += [f"  {n} enrollment(s) in {k} {verb} stay on their version (step gone)"
                for k, n in sorted(self.staying.items())]
        out += [f"  {n} enrollment(s) in {k} {verb} exit (flow removed)"
                for k, n in sorted(self.exiting.items())]
        return out


def deploy_default(db: Database, settings: Settings, account_id: int, now: datetime
                   ) -> DeployReport:
    """The repo's own folders (FLOWS_DIR, SEGMENTS_DIR, TEMPLATES_DIR, and the campaigns
    beside the flows): what a new account gets."""
    files = read_workspace(settings.flows_dir, settings.segments_dir, settings.templates_dir,
                           settings.flows_dir.parent / CAMPAIGNS)
    return deploy_files(db, settings, account_id, files, now=now)


def deploy_files(
    db: Database,
    settings: Settings,
    account_id: int,
    files: Mapping[str, str],
    *,
    now: datetime,
    dry_run: bool = False,
) -> DeployReport:
    """Check every file, then make them the account's live workspace in one transaction.

    Raises WorkspaceError (every problem, "path:line: message") and changes nothing when
    anything is wrong, a campaign's `send_at` already past included (unless that campaign
    has started: its time rightly passed); LookupError for an unknown account.
    """
    checked = check_workspace(files, fallback_properties=_deployment_catalogue(settings))
    with db.session() as session:
        started = set(session.scalars(
            select(CampaignRun.key).where(CampaignRun.account_id == account_id)))
        account = session.get(Account, account_id)  # None: activate says so
        zone = (settings.default_timezone if account is None
                else account_timezone(account, settings))
    late = send_time_errors(files, now=now, timezone=zone, started=started)
    if checked.workspace is None or late:
        raise WorkspaceError(checked.errors + late)
    return activate(db, account_id, checked.workspace, now=now, dry_run=dry_run,
                    warnings=checked.warnings)


def activate(
    db: Database,
    account_id: int,
    new: Workspace,
    *,
    now: datetime,
    dry_run: bool = False,
    warnings: list[str] | None = None,
) -> DeployReport:
    """Make an already checked workspace live (or report what that would change)."""
    with db.session() as session:
        # The row lock serialises two deploys to one account (SQLite: BEGIN IMMEDIATE).
        account = session.get(Account, account_id, with_for_update=not dry_run)
        if account is None:
            raise LookupError(f"no account {account_id}")
        previous = account.workspace_version
        old_files = _files(session, account_id, previous)
        report = _report(session, account_id, old_files, new, previous, dry_run, warnings or [])
        if dry_run or (old_files is not None and new.digest == digest(old_files)):
            return report
        version = report.version
        assert version is not None
        session.add(
            WorkspaceVersion(
                account_id=account_id,
                version=version,
                digest=new.digest,
                files=dict(new.files),
                created_at=now,
            )
        )
        _snapshot_flows(session, account_id, new.flows.values(), now)
        account.workspace_version = version
        removed = report.flows.removed
        if removed:
            # Their contacts leave at their next run: make that now, not in a week.
            session.execute(
                delete(ScheduledTrigger).where(
                    ScheduledTrigger.account_id == account_id,
                    ScheduledTrigger.flow_key.in_(removed),
                )
            )
            session.execute(
                update(Enrollment)
                .where(
                    Enrollment.account_id == account_id,
                    Enrollment.flow_key.in_(removed),
                    Enrollment.state == "active",
                )
                .values(next_run_at=now)
            )
    return report


def _report(
    session: Session,
    account_id: int,
    old_files: Mapping[str, str] | None,
    new: Workspace,
    previous: int | None,
    dry_run: bool,
    warnings: list[str],
) -> DeployReport:
    old = old_files or {}
    same = old_files is not None and new.digest == digest(old_files)
    latest = session.scalar(
        select(func.max(WorkspaceVersion.version)).where(WorkspaceVersion.account_id == account_id)
    )
    old_flows = _flow_versions(old)
    migrating, staying, exiting = _enrollment_moves(session, account_id, new.flows)
    return DeployReport(
        account_id=account_id,
        dry_run=dry_run,
        previous_version=previous,
        version=previous if same else (latest or 0) + 1,
        flows=_changes(old_flows, {k: f.version for k, f in new.flows.items()}),
        segments=_changes(_by_key(old, SEGMENTS), _by_key(new.files, SEGMENTS)),
        templates=_changes(_templates(old), _templates(new.files)),
        migrating=migrating,
        staying=staying,
        exiting=exiting,
        warnings=warnings,
    )


def _enrollment_moves(
    session: Session, account_id: int, flows: Mapping[str, Flow]
) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    groups = session.execute(
        select(Enrollment.flow_key, Enrollment.flow_version_id, Enrollment.cursor, func.count())
        .where(Enrollment.account_id == account_id, Enrollment.state == "active")
        .group_by(Enrollment.flow_key, Enrollment.flow_version_id, Enrollment.cursor)
    ).all()
    definitions: dict[int, dict[str, Any]] = dict(
        session.execute(
            select(FlowVersion.id, FlowVersion.definition).where(
                FlowVersion.id.in_({version_id for _, version_id, _, _ in groups})
            )
        ).all()
    )
    migrating: Counter[str] = Counter()
    staying: Counter[str] = Counter()
    exiting: Counter[str] = Counter()
    for key, version_id, cursor, count in groups:
        new = flows.get(key)
        if new is None:
            exiting[key] += count
            continue
        old = flow_from_dict(definitions[version_id])
        if old.version == new.version:
            continue
        if migrate_cursor(old, new, cursor) is None:
            staying[key] += count
        else:
            migrating[key] += count
    return dict(migrating), dict(staying), dict(exiting)


def _snapshot_flows(session: Session, account_id: int, flows: Any, now: datetime) -> None:
    """One immutable row per (account, flow, version): enrollments keep the one they began on."""
    flows = list(flows)
    existing = set(
        session.execute(
            select(FlowVersion.flow_key, FlowVersion.version).where(
                FlowVersion.account_id == account_id,
                FlowVersion.flow_key.in_([f.key for f in flows]),
            )
        ).all()
    )
    for flow in flows:
        if (flow.key, flow.version) not in existing:
            session.add(
                FlowVersion(
                    account_id=account_id,
                    flow_key=flow.key,
                    version=flow.version,
                    definition=flow_to_dict(flow),
                    created_at=now,
                )
            )


def _files(session: Session, account_id: int, version: int | None) -> dict[str, str] | None:
    if version is None:
        return None
    return session.scalar(
        select(WorkspaceVersion.files).where(
            WorkspaceVersion.account_id == account_id, WorkspaceVersion.version == version
        )
    )


def _flow_versions(files: Mapping[str, str]) -> dict[str, str]:
    if not files:
        return {}
    return {key: flow.version for key, flow in build_workspace(files).flows.items()}


def _by_key(files: Mapping[str, str], prefix: str) -> dict[str, str]:
    """Definition files by stem, compared by text."""
    return {
        Path(path).stem: text
        for path, text in part(files, prefix).items()
        if path.endswith((".yaml", ".yml"))
    }


def _templates(files: Mapping[str, str]) -> dict[str, str]:
    """Each template folder (shared `_` folders included), compared by all its files."""
    folders: dict[str, list[str]] = {}
    for path, text in sorted(part(files, TEMPLATES).items()):
        name, _, rest = path.partition("/")
        if rest:
            folders.setdefault(name, []).append(f"{rest}\0{text}")
    return {name: "\0\0".join(parts) for name, parts in folders.items()}


def _changes(old: Mapping[str, str], new: Mapping[str, str]) -> Changes:
    return Changes(
        added=sorted(new.keys() - old.keys()),
        changed=sorted(k for k in new.keys() & old.keys() if new[k] != old[k]),
        removed=sorted(old.keys() - new.keys()),
    )


def _deployment_catalogue(settings: Settings) -> frozenset[str] | None:
    path = settings.flows_dir / CATALOGUE
    return read_catalogue(path.read_text()) if path.is_file() else None

