"""A HubSpot portal installed the app: record it as an account (or reconnect the one it
was), its tokens encrypted with their expiry, and give a new account the default
workspace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from adapters.port import TokenGrant
from connector.crypto import Vault
from connector.db import Database
from connector.models import Account
from connector.services.accounts import connect_account
from connector.services.credentials import CONNECTED, store_tokens
from connector.settings import Settings
from connector.workspaces import deploy_default


@dataclass(frozen=True)
class Install:
    account_id: int
    hub_id: str
    created: bool  # False: a reinstall, which reconnects the account it was
    workspace_version: int | None


def record_hubspot_install(db: Database, vault: Vault, settings: Settings, *, hub_id: str,
                           grant: TokenGrant, now: datetime) -> Install:
    """Create the account for this portal, or update the tokens of the one it was and
    connect it again; then deploy the default workspace if it has none (idempotent: a
    repeat deploys nothing). Raises AccountError for a hub id that is not one, and
    WorkspaceError when the repo's default workspace is invalid (the account is kept)."""
    with db.session() as session:
        view, created = connect_account(session, vault, provider="hubspot", external_id=hub_id,
                                        access_token=grant.access_token,
                                        refresh_token=grant.refresh_token, now=now)
        account = session.get(Account, view.id)
        assert account is not None
        store_tokens(account, vault, grant)
        account.status = CONNECTED
        account.disconnected_at = None
        account.disconnect_reason = None
        version = account.workspace_version
    if version is None:
        # Its own transaction (deploy_default opens one); safe to repeat, so a failure
        # here is healed by installing again.
        version = deploy_default(db, settings, view.id, now).version
    return Install(account_id=view.id, hub_id=hub_id, created=created, workspace_version=version)
