"""What runs for an account right now: its live workspace (built once per version per
process and reused), its flows, its sending identity, policy and timezone. Jobs ask for it
by account id; nothing on the event path parses a flow or a template."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.engine.run import Policy
from connector.models import Account, WorkspaceVersion
from connector.settings import Settings, parse_frequency_cap, parse_timezone
from connector.workspaces.build import Workspace, build_workspace
from connector.workspaces.registry import FlowRegistry

# An `accounts set` or a deploy reaches every worker within this long.
PROFILE_TTL_SECONDS = 1.0
MAX_CACHED_VERSIONS = 256


@dataclass(frozen=True)
class SendingIdentity:
    mail_from: str
    reply_to: str | None
    company_name: str
    company_address: str


@dataclass(frozen=True)
class Profile:
    """An account's row as the services need it, falling back to the deployment's settings."""

    account_id: int
    workspace_version: int | None
    identity: SendingIdentity
    policy: Policy
    # A campaign's send_at without an offset is a wall time here; so is local_time for
    # contacts without a timezone of their own.
    timezone: ZoneInfo


@dataclass(frozen=True)
class Live:
    profile: Profile
    workspace: Workspace
    flows: FlowRegistry

    @property
    def account_id(self) -> int:
        return self.profile.account_id


class Workspaces:
    """The per-process cache of live definitions, by (account, workspace version)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._profiles: dict[int, tuple[float, Profile]] = {}
        self._built: OrderedDict[tuple[int, int | None], tuple[Workspace, FlowRegistry]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def live(self, session: Session, account_id: int) -> Live:
        profile = self.profile(session, account_id)
        key = (account_id, profile.workspace_version)
        with self._lock:
            built = self._built.get(key)
            if built is not None:
                self._built.move_to_end(key)
        if built is None:
            built = self._build(session, account_id, profile.workspace_version)
            with self._lock:
                self._built[key] = built
                while len(self._built) > MAX_CACHED_VERSIONS:
                    self._built.popitem(last=False)
        return Live(profile, built[0], built[1])

    def profile(self, session: Session, account_id: int) -> Profile:
        now = time.monotonic()
        with self._lock:
            hit = self._profiles.get(account_id)
        if hit is not None and now - hit[0] <= PROFILE_TTL_SECONDS:
            return hit[1]
        account = session.get(Account, account_id)
        if account is None:
            raise LookupError(f"account {account_id} does not exist")
        profile = self._profile(account)
        with self._lock:
            self._profiles[account_id] = (now, profile)
        return profile

    def forget(self, account_id: int) -> None:
        """After a deploy or an `accounts set` in this process: read the account afresh."""
        with self._lock:
            self._profiles.pop(account_id, None)

    def _profile(self, account: Account) -> Profile:
        settings = self._settings
        cap = account.frequency_cap or settings.frequency_cap
        policy = Policy(frequency_cap=parse_frequency_cap(cap)) if cap else Policy()
        return Profile(
            account_id=account.id,
            workspace_version=account.workspace_version,
            identity=SendingIdentity(
                mail_from=account.mail_from or settings.mail_from,
                reply_to=account.reply_to,
                company_name=account.company_name or settings.company_name,
                company_address=account.company_address or settings.company_address,
            ),
            policy=policy,
            timezone=account_timezone(account, settings),
        )

    def _build(
        self, session: Session, account_id: int, version: int | None
    ) -> tuple[Workspace, FlowRegistry]:
        if version is None:
            return build_workspace({}), FlowRegistry(account_id, {}, {})  # nothing runs
        files = session.scalar(
            select(WorkspaceVersion.files).where(
                WorkspaceVersion.account_id == account_id, WorkspaceVersion.version == version
            )
        )
        if files is None:
            raise LookupError(f"account {account_id} has no workspace version {version}")
        workspace = build_workspace(files)
        return workspace, FlowRegistry.load(session, account_id, workspace.flows)


def account_timezone(account: Account, settings: Settings) -> ZoneInfo:
    """The account's timezone, else the deployment's TIMEZONE: the one place the fallback
    is decided (both names were checked when they were set)."""
    return parse_timezone(account.timezone) if account.timezone else settings.default_timezone
