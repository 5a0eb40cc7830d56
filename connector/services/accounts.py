"""Connected accounts: tokens encrypted at rest, one API key each for /v1/events, and each
account's sending identity, policy and timezone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.registry import validate_external_id
from connector.crypto import Vault, hash_api_key, new_api_key
from connector.models import Account
from connector.settings import parse_frequency_cap, parse_timezone

INSTANCE_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?$")


class AccountError(ValueError):
    """Bad input to `accounts connect`; the message names the option."""


@dataclass(frozen=True)
class AccountView:
    id: int
    provider: str
    external_id: str
    name: str
    api_key: str
    has_refresh_token: bool
    created_at: datetime
    workspace_version: int | None
    mail_from: str | None
    reply_to: str | None
    company_name: str | None
    company_address: str | None
    frequency_cap: str | None
    timezone: str | None
    status: str = "connected"  # or "disconnected" (uninstalled, refresh token refused)


def connect_account(
    session: Session,
    vault: Vault,
    *,
    provider: str,
    external_id: str,
    access_token: str,
    now: datetime,
    refresh_token: str | None = None,
    instance_url: str | None = None,
    name: str | None = None,
) -> tuple[AccountView, bool]:
    """Create the account or update its tokens (the API key is kept). Returns (view, created)."""
    _validate(provider, external_id, access_token, instance_url)
    account = session.scalar(
        select(Account).where(Account.provider == provider, Account.external_id == external_id)
    )
    created = account is None
    if account is None:
        api_key = new_api_key()
        account = Account(
            provider=provider,
            external_id=external_id,
            api_key_hash=hash_api_key(api_key),
            api_key_encrypted=vault.encrypt(api_key),
            created_at=now,
        )
        session.add(account)
    account.name = name or account.name or f"{provider} {external_id}"
    account.access_token_encrypted = vault.encrypt(access_token)
    account.refresh_token_encrypted = vault.encrypt(refresh_token) if refresh_token else None
    account.instance_url = instance_url.rstrip("/") if instance_url else None
    # New tokens reconnect an account that was disconnected (uninstalled, revoked).
    account.status, account.disconnected_at, account.disconnect_reason = "connected", None, None
    account.token_expires_at = None  # a token given by hand: none known (OAuth sets it)
    session.flush()
    return _view(account, vault), created


def list_accounts(session: Session, vault: Vault) -> list[AccountView]:
    return [_view(a, vault) for a in session.scalars(select(Account).order_by(Account.id))]


def account_view(session: Session, vault: Vault, account_id: int) -> AccountView | None:
    account = session.get(Account, account_id)
    return None if account is None else _view(account, vault)


def _view(account: Account, vault: Vault) -> AccountView:
    return AccountView(
        id=account.id,
        provider=account.provider,
        external_id=account.external_id,
        name=account.name,
        api_key=vault.decrypt(account.api_key_encrypted),
        has_refresh_token=account.refresh_token_encrypted is not None,
        created_at=account.created_at,
        workspace_version=account.workspace_version,
        mail_from=account.mail_from,
        reply_to=account.reply_to,
        company_name=account.company_name,
        company_address=account.company_address,
        frequency_cap=account.frequency_cap,
        timezone=account.timezone,
        status=account.status,
    )


# The option that names each provider's account id (the error says which one is wrong).
ID_OPTIONS = {"hubspot": "--portal-id", "salesforce": "--org-id"}


def _validate(provider: str, external_id: str, access_token: str, instance_url: str | None) -> None:
    problem = validate_external_id(provider, external_id)
    if problem is not None:
        option = ID_OPTIONS.get(provider)
        raise AccountError(f"{option}: {problem}" if option else problem)
    if provider == "salesforce" and (not instance_url or not INSTANCE_URL.match(instance_url)):
        raise AccountError(f"--instance-url must be an http(s) origin, got {instance_url!r}")
    if (
        not access_token.strip()
        or len(access_token) > 4096
        or any(c.isspace() for c in access_token)
    ):
        raise AccountError("--access-token must be a non-empty token without spaces")


# What `accounts set` may change; None leaves a value as it is, "" clears it (back to the
# deployment's setting).
IDENTITY_OPTIONS = {
    "mail_from": "--from",
    "reply_to": "--reply-to",
    "company_name": "--company",
    "company_address": "--address",
    "frequency_cap": "--frequency-cap",
    "timezone": "--timezone",
}
_MAX_LENGTHS = {"mail_from": 320, "reply_to": 320, "company_name": 200,
                "company_address": 500, "frequency_cap": 40, "timezone": 64}


def set_identity(session: Session, vault: Vault, account_id: int, **values: str | None
                 ) -> AccountView:
    """Set an account's sending identity, policy and timezone; AccountError names a bad
    value."""
    account = session.get(Account, account_id)
    if account is None:
        raise AccountError(f"no account {account_id}")
    for name, value in values.items():
        if name not in IDENTITY_OPTIONS:
            raise AccountError(f"unknown setting {name!r}")
        if value is None:
            continue
        option = IDENTITY_OPTIONS[name]
        cleaned = value.strip()
        if any(ch in cleaned for ch in "\r\n") or len(cleaned) > _MAX_LENGTHS[name]:
            raise AccountError(f"{option}: one line of at most {_MAX_LENGTHS[name]} characters")
        if cleaned and name in ("mail_from", "reply_to") and not _is_mailbox(cleaned):
            raise AccountError(
                f"{option}: expected an address such as 'Acme <hello@acme.example>', "
                f"got {value!r}"
            )
        if cleaned and name == "frequency_cap":
            cleaned = _frequency_cap(cleaned)
        if cleaned and name == "timezone":
            cleaned = checked_timezone(cleaned)
        setattr(account, name, cleaned or None)
    session.flush()
    return _view(account, vault)


def _is_mailbox(value: str) -> bool:
    name, address = parseaddr(value)
    local, _, domain = address.rpartition("@")
    return bool(local) and "." in domain and " " not in address and (name or address) != ""


def _frequency_cap(value: str) -> str:
    try:
        parse_frequency_cap(value)
    except ValueError as exc:
        raise AccountError(f"--frequency-cap: {exc}") from exc
    return value


def checked_timezone(value: str) -> str:
    """An IANA timezone's name as given, or AccountError naming the close ones."""
    try:
        return parse_timezone(value).key
    except ValueError as exc:
        raise AccountError(f"--timezone: {exc}") from exc
