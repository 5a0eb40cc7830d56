"""A CRM installed the app (a HubSpot portal, a Salesforce org): record it as an account (or
reconnect the one it was), its tokens encrypted with their expiry, take the CRM's own
timezone when the account has none, and give a new account the default workspace."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from adapters.errors import CRMError
from adapters.port import TokenGrant
from adapters.salesforce.ids import is_id, to_15, to_18
from connector.crypto import Vault
from connector.db import Database
from connector.models import Account
from connector.services.accounts import connect_account
from connector.services.credentials import store_tokens
from connector.settings import Settings, parse_timezone
from connector.workspaces import deploy_default

log = logging.getLogger(__name__)
# Asks the CRM for its timezone's name with the install's fresh tokens (CRMError if not).
CrmTimezone = Callable[[], str]


@dataclass(frozen=True)
class Install:
    account_id: int
    external_id: str  # the portal or org id, as the account holds it
    created: bool  # False: a reinstall, which reconnects the account it was
    workspace_version: int | None


def record_hubspot_install(db: Database, vault: Vault, settings: Settings, *, hub_id: str,
                           grant: TokenGrant, now: datetime,
                           crm_timezone: CrmTimezone | None = None) -> Install:
    """The portal's account (see `_record`). AccountError for a hub id that is not one."""
    return _record(db, vault, settings, provider="hubspot", external_ids=[hub_id],
                   grant=grant, now=now, crm_timezone=crm_timezone)


def record_salesforce_install(db: Database, vault: Vault, settings: Settings, *, org_id: str,
                              grant: TokenGrant, now: datetime,
                              crm_timezone: CrmTimezone | None = None) -> Install:
    """The org's account (see `_record`), with the grant's instance URL. An org connected
    before under its other id form (15 or 18 characters, e.g. by `accounts connect`) is
    that account; a new one is kept under the 18-character id. AccountError for an org id
    that is not one, or a grant without an instance URL."""
    # Not an id at all: connect_account says why.
    forms = list(dict.fromkeys([to_18(org_id), to_15(org_id), org_id])) if is_id(org_id) \
        else [org_id]
    return _record(db, vault, settings, provider="salesforce", external_ids=forms,
                   grant=grant, now=now, crm_timezone=crm_timezone)


def _record(db: Database, vault: Vault, settings: Settings, *, provider: str,
            external_ids: Sequence[str], grant: TokenGrant, now: datetime,
            crm_timezone: CrmTimezone | None) -> Install:
    """Create the account, under `external_ids[0]`, or update the tokens of the one any of
    them names and connect it again; give it the CRM's timezone if it has none (before the
    deploy, whose send_at check reads it); then deploy the default workspace if it has
    none (idempotent: a repeat deploys nothing). Raises AccountError for an id that is not
    one of `provider`, and WorkspaceError when the repo's default workspace is invalid (the
    account is kept)."""
    with db.session() as session:
        known = session.scalar(
            select(Account.external_id)
            .where(Account.provider == provider, Account.external_id.in_(external_ids))
            .order_by(Account.id).limit(1))
        view, created = connect_account(session, vault, provider=provider,
                                        external_id=known or external_ids[0],
                                        access_token=grant.access_token,
                                        refresh_token=grant.refresh_token,
                                        instance_url=grant.instance_url, now=now)
        account = session.get(Account, view.id)
        assert account is not None
        store_tokens(account, vault, grant)  # the expiry, which connect_account cannot know
        version, zoned = account.workspace_version, account.timezone is not None
    if not zoned and crm_timezone is not None:
        take_crm_timezone(db, view.id, provider, crm_timezone)  # no transaction held
    if version is None:
        # Its own transaction (deploy_default opens one); safe to repeat, so a failure
        # here is healed by installing again.
        version = deploy_default(db, settings, view.id, now).version
    return Install(account_id=view.id, external_id=view.external_id, created=created,
                   workspace_version=version)


def take_crm_timezone(db: Database, account_id: int, provider: str, fetch: CrmTimezone
                      ) -> str | None:
    """Give an account without a timezone its CRM's (an `accounts set --timezone` made
    meanwhile wins). A CRM that cannot say, or names no IANA zone, is logged and leaves it
    none, the deployment's TIMEZONE: the install goes on. Returns the name taken."""
    try:
        name = parse_timezone(fetch()).key
    except CRMError as exc:
        log.warning("account %s: %s's timezone not read, TIMEZONE applies: %s", account_id,
                    provider, exc)
        return None
    except ValueError as exc:
        log.warning("account %s: %s's timezone not taken, TIMEZONE applies: %s", account_id,
                    provider, exc)
        return None
    with db.session() as session:
        session.execute(update(Account).where(Account.id == account_id,
                                              Account.timezone.is_(None))
                        .values(timezone=name))
    log.info("account %s: timezone %s, %s's", account_id, name, provider)
    return name
