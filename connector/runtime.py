"""The wired object graph of one process: settings, database, Redis, queues, flows,
templates, transport, clock, CRM adapters.

Built in two places only: the app factory and the worker bootstrap (CONVENTIONS: explicit
dependencies). RQ imports job functions by path, so a worker process installs its runtime
once with `install()` and jobs read it with `current()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from redis import Redis

from adapters.memory import InMemoryCRM
from adapters.port import CRMAdapter
from connector.api_keys import ApiKeyCache
from connector.clock import Clock, SystemClock
from connector.crypto import Vault
from connector.db import Database
from connector.email.templates import TemplateStore
from connector.email.transports import Transport, transport_from_url
from connector.engine.common import parse_duration
from connector.engine.loader import flow_rules
from connector.engine.rules import history_window
from connector.engine.run import Policy
from connector.engine.segments import Segment, load_segments
from connector.flow_registry import FlowRegistry
from connector.queues import Queues
from connector.services.facts import HISTORY
from connector.settings import Settings
from connector.tokens import TokenSigner

if TYPE_CHECKING:
    from connector.models import Account


@dataclass
class Runtime:
    settings: Settings
    db: Database
    redis: Redis
    clock: Clock = field(default_factory=SystemClock)
    # One adapter per provider; the in-memory CRM stands in until the real adapters land.
    crm_adapters: dict[str, CRMAdapter] = field(default_factory=dict)
    # False in `flows simulate`: outbound webhook steps are recorded, not POSTed.
    outbound_webhooks: bool = True
    flows: FlowRegistry = field(init=False)
    segments: dict[str, Segment] = field(init=False)

    @cached_property
    def queues(self) -> Queues:
        return Queues(self.redis)

    def __post_init__(self) -> None:
        # Loaded (and snapshotted) up front: a broken flow or segment file stops the
        # process at start-up, and no job ever loads them while holding a transaction.
        self.flows = FlowRegistry.load(self.settings.flows_dir, self.db)
        self.segments = load_segments(self.settings.segments_dir)

    @cached_property
    def history(self) -> timedelta | None:
        """How far back contact facts are loaded: the longest window any rule in use looks
        at (at least a year and a bit, for waits and caps), None when one counts over all
        history."""
        rules = [segment.rule for segment in self.segments.values()]
        rules += [rule for flow in self.flows.all() for _, _, rule in flow_rules(flow)]
        windows = [history_window(rule) for rule in rules]
        if any(window is None for window in windows):
            return None
        return max([HISTORY, *[w for w in windows if w is not None]])

    @cached_property
    def policy(self) -> Policy:
        """Deployment-wide sending rules the engine applies to marketing flows."""
        if not self.settings.frequency_cap:
            return Policy()
        count, window = self.settings.frequency_cap.split("/", 1)
        return Policy(frequency_cap=(int(count), parse_duration(window)))

    @cached_property
    def templates(self) -> TemplateStore:
        return TemplateStore(self.settings.templates_dir)

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
    def vault(self) -> Vault:
        return Vault(self.settings.fernet_keys)

    def crm_for(self, account: Account) -> CRMAdapter:
        if account.provider not in self.crm_adapters:
            self.crm_adapters[account.provider] = InMemoryCRM()
        return self.crm_adapters[account.provider]

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
