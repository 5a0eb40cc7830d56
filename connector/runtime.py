"""The wired object graph of one process: settings, database, Redis, queues, each
account's workspace, transport, clock, CRM adapters.

Built in two places only: the app factory and the worker bootstrap (CONVENTIONS: explicit
dependencies). RQ imports job functions by path, so a worker process installs its runtime
once with `install()` and jobs read it with `current()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from redis import Redis

from adapters.port import CRMAdapter
from connector.api_keys import ApiKeyCache
from connector.clock import Clock, SystemClock
from connector.crm import CrmAdapters
from connector.crm_routes import CrmRoutes
from connector.crypto import Vault
from connector.db import Database
from connector.email.transports import Transport, transport_from_url
from connector.queues import Queues
from connector.settings import Settings
from connector.tokens import TokenSigner
from connector.work import Work
from connector.workspaces import Workspaces

if TYPE_CHECKING:
    from connector.models import Account


@dataclass
class Runtime:
    settings: Settings
    db: Database
    redis: Redis
    clock: Clock = field(default_factory=SystemClock)
    # A fixed adapter per provider, for every account of it (simulations, tests, the
    # demo's in-memory CRM); any other account gets its own, built from its credentials.
    crm_adapters: dict[str, CRMAdapter] = field(default_factory=dict)
    # False in `flows simulate`: outbound webhook steps are recorded, not POSTed.
    outbound_webhooks: bool = True

    @cached_property
    def queues(self) -> Queues:
        return Queues(self.redis)

    @cached_property
    def work(self) -> Work:
        """Where services enqueue jobs (after commit)."""
        return Work(self.queues)

    @cached_property
    def workspaces(self) -> Workspaces:
        """Each account's live definitions, built once per version and reused."""
        return Workspaces(self.settings)

    @cached_property
    def transport(self) -> Transport:
        return transport_from_url(self.settings.mail)

    @cached_property
    def signer(self) -> TokenSigner:
        assert self.settings.secret_key
        return TokenSigner(self.settings.secret_key)

    @cached_property
    def api_keys(self) -> ApiKeyCache:
        return ApiKeyCache(self.db)

    @cached_property
    def crm_routes(self) -> CrmRoutes:
        """Which account a CRM's webhook is for (cached a few seconds)."""
        return CrmRoutes(self.db)

    @cached_property
    def vault(self) -> Vault:
        return Vault(self.settings.fernet_keys)

    @cached_property
    def crms(self) -> CrmAdapters:
        return CrmAdapters(settings=self.settings, db=self.db, vault=self.vault,
                           redis=self.redis, clock=self.clock, fixed=self.crm_adapters)

    def crm_for(self, account: Account) -> CRMAdapter:
        """The account's CRM adapter."""
        return self.crms.for_account(account)

    def close(self) -> None:
        if "transport" in self.__dict__:
            self.transport.close()
        self.db.dispose()
        self.redis.close()


def build_runtime(
    settings: Settings,
    *,
    redis_url: str | None = None,
    clock: Clock | None = None,
) -> Runtime:
    url = redis_url or settings.redis_url
    if not url:
        raise RuntimeError("no Redis: set REDIS_URL or let `connector serve` embed one")
    return Runtime(
        settings=settings,
        db=Database(settings.sqlalchemy_url),
        redis=Redis.from_url(url),
        clock=clock or SystemClock(),
    )


_current: Runtime | None = None


def install(runtime: Runtime | None) -> None:
    global _current
    _current = runtime


def current() -> Runtime:
    """The runtime of this process; a bare `rq worker` builds one from the environment."""
    global _current
    if _current is None:
        from connector.settings import load_settings

        _current = build_runtime(load_settings())
    return _current
