"""The port's CredentialStore over the accounts table: tokens decrypted on load, refreshed
once for every worker under the account's row lock, dropped on disconnect."""

from __future__ import annotations

from adapters.errors import DisconnectedError
from adapters.port import Credentials, RefreshExchange, TokenGrant
from connector.clock import Clock
from connector.crypto import Vault
from connector.db import Database
from connector.models import Account

DISCONNECTED = "disconnected"
CONNECTED = "connected"
_REASON_LENGTH = 300  # accounts.disconnect_reason


class DatabaseCredentialStore:
    """Credentials of every account, shared by every worker through the database."""

    def __init__(self, db: Database, vault: Vault, clock: Clock) -> None:
        self._db = db
        self._vault = vault
        self._clock = clock

    def load(self, account_id: int) -> Credentials:
        """The stored tokens; DisconnectedError for a disconnected account, LookupError
        for an unknown one."""
        with self._db.session() as session:
            account = session.get(Account, account_id)
            if account is None:
                raise LookupError(f"no account {account_id}")
            return self._credentials(account)

    def refresh(self, account_id: int, stale_token: str,
                exchange: RefreshExchange) -> Credentials:
        """Under the row lock (SELECT ... FOR UPDATE; SQLite: BEGIN IMMEDIATE, one
        writer), call `exchange` only if `stale_token` is still the stored one, and keep
        its grant; otherwise answer what another worker stored. A refused refresh token
        (DisconnectedError from `exchange`) disconnects the account, then is raised."""
        refused: DisconnectedError | None = None
        with self._db.session() as session:
            account = session.get(Account, account_id, with_for_update=True)
            if account is None:
                raise LookupError(f"no account {account_id}")
            current = self._credentials(account)
            if current.access_token != stale_token:
                return current
            try:
                grant = exchange(current)
            except DisconnectedError as exc:
                # The account is marked in this same locked transaction: a second worker
                # waiting on the lock then sees it disconnected, not the stale token.
                self._drop(account, str(exc))
                refused = exc
            else:
                store_tokens(account, self._vault, grant, current.refresh_token)
                return self._credentials(account)
        raise refused

    def disconnect(self, account_id: int, reason: str) -> None:
        """Stop using the account: status disconnected, tokens dropped, the reason kept.
        Installing the app again reconnects it."""
        with self._db.session() as session:
            account = session.get(Account, account_id, with_for_update=True)
            if account is None:
                raise LookupError(f"no account {account_id}")
            self._drop(account, reason)

    def _credentials(self, account: Account) -> Credentials:
        if account.status == DISCONNECTED or account.access_token_encrypted is None:
            raise DisconnectedError(
                f"account {account.id} is disconnected"
                + (f" ({account.disconnect_reason})" if account.disconnect_reason else "")
                + ": install the app again"
            )
        refresh = account.refresh_token_encrypted
        return Credentials(
            account_id=account.id,
            provider=account.provider,
            external_id=account.external_id,
            access_token=self._vault.decrypt(account.access_token_encrypted),
            refresh_token=self._vault.decrypt(refresh) if refresh is not None else None,
            expires_at=account.token_expires_at,
            instance_url=account.instance_url,
        )

    def _drop(self, account: Account, reason: str) -> None:
        account.status = DISCONNECTED
        account.disconnected_at = self._clock.now()
        account.disconnect_reason = reason[:_REASON_LENGTH]
        account.access_token_encrypted = None
        account.refresh_token_encrypted = None
        account.token_expires_at = None


def store_tokens(account: Account, vault: Vault, grant: TokenGrant,
                 previous_refresh: str | None = None) -> None:
    """Keep a grant on the account, encrypted, with its expiry; a grant without a refresh
    token keeps the previous one (HubSpot's refresh answer need not repeat it)."""
    refresh = grant.refresh_token or previous_refresh
    account.access_token_encrypted = vault.encrypt(grant.access_token)
    account.refresh_token_encrypted = vault.encrypt(refresh) if refresh else None
    account.token_expires_at = grant.expires_at
    if grant.instance_url:
        account.instance_url = grant.instance_url.rstrip("/")
