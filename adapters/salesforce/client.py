"""The one place HTTP to Salesforce happens, through simple-salesforce. Every call carries
a timeout, waits for a slot under the org's shared limiter, and maps what Salesforce
answers into adapters.errors: 401 INVALID_SESSION_ID refreshes the token and rebuilds the
client once (simple-salesforce cannot refresh a session it was given); 403
REQUEST_LIMIT_EXCEEDED pauses the org for every worker; 5xx, timeouts and lost connections
retry with jittered backoff; other 4xx raise SalesforceRequestError (permanent).

The org's daily API budget is read from `Sforce-Limit-Info: api-usage=N/M` on every answer:
past `api_share * M` the client refuses further calls (retryable) so the connector never
eats the share of the budget the org's other integrations need.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceRefusedRequest,
)

from adapters.errors import NotSentError, PermanentCRMError, RetryableCRMError
from adapters.port import RateLimiter
from adapters.salesforce.tokens import AccountTokens
from adapters.salesforce.transport import session_for

API_VERSION = "59.0"
# Salesforce's daily limit is a rolling 24 h: after REQUEST_LIMIT_EXCEEDED an hour frees
# some of it without hammering an org that is out of requests.
LIMIT_EXCEEDED_PAUSE = 3600.0
# When our share of the budget is used, look again after this long (the window rolls).
BUDGET_RETRY_AFTER = 900.0
# Errors raised before a byte of the request left: sending it again cannot write twice.
NOT_SENT = (requests.ConnectTimeout,)


@dataclass(frozen=True)
class SalesforceConfig:
    """How the client calls an org (the login URL and the app's credentials belong to the
    refresh grant, adapters/salesforce/tokens.py)."""

    timeout: float = 10.0  # seconds per request
    api_share: float = 0.5  # the share of the org's daily API requests we may use
    retries: int = 3  # tries after the first on a 5xx, a timeout or a lost connection
    backoff: float = 0.5  # seconds before the first retry; doubles, jittered
    rate_limit: tuple[int, float] = (25, 1.0)  # requests per window (s), per org
    acquire_timeout: float = 30.0


class SalesforceRequestError(PermanentCRMError):
    """Salesforce refused the request itself (a 4xx other than a session or limit error)."""

    def __init__(self, what: str, status: int, content: Any) -> None:
        code, message = _first_error(content)
        super().__init__(f"Salesforce {what}: {status} {code or ''} {message}".rstrip())
        self.status, self.error_code, self.content = status, code, content


class UnansweredCreate(RetryableCRMError):
    """A create got no answer after it was sent: Salesforce may have carried it out."""


Call = Callable[[Salesforce, float], Any]


class SalesforceClient:
    """Calls for one account's org; `call` returns what simple-salesforce answered or raises
    RetryableCRMError / PermanentCRMError / DisconnectedError (never an SDK exception)."""

    def __init__(self, *, tokens: AccountTokens, limiter: RateLimiter, config: SalesforceConfig,
                 session_factory: Callable[[], requests.Session] = requests.Session,
                 sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._tokens = tokens
        self._limiter = limiter
        self._config = config
        self._session_factory = session_factory
        self._sleep = sleep
        self._monotonic = monotonic
        self._usage_seen_at = 0.0
        self._sf: tuple[str, Salesforce] | None = None
        self.usage: tuple[int, int] | None = None  # (used, max) from the last answer

    @property
    def config(self) -> SalesforceConfig:
        return self._config

    @property
    def key(self) -> str:
        return f"salesforce:{self._tokens.org_id[:15]}"

    def call(self, what: str, call: Call, *, create: bool = False) -> Any:
        """`call(sf, timeout)` must pass `timeout=` to simple-salesforce. `create`: the call
        makes records, so one sent without an answer raises UnansweredCreate."""
        refreshed = False
        failures = 0
        while True:
            self._check_budget(what)
            credentials = self._tokens.current()
            sf = self._client(credentials.access_token, str(credentials.instance_url))
            self._limiter.acquire(self.key, limit=self._config.rate_limit[0],
                                  window=self._config.rate_limit[1],
                                  timeout=self._config.acquire_timeout)
            try:
                answer = call(sf, self._config.timeout)
                self._note_usage(sf)
                return answer
            except SalesforceExpiredSession as exc:
                if refreshed:
                    raise RetryableCRMError(f"Salesforce {what}: a freshly refreshed session "
                                            "was refused") from exc
                refreshed = True
                self._tokens.refresh(stale=credentials.access_token)
                continue  # the next round builds a client on the new session
            except SalesforceRefusedRequest as exc:
                code, message = _first_error(exc.content)
                if code == "REQUEST_LIMIT_EXCEEDED":
                    self._limiter.pause(self.key, LIMIT_EXCEEDED_PAUSE)
                    raise RetryableCRMError(f"Salesforce {what}: daily API limit exceeded "
                                            f"({message})",
                                            retry_after=LIMIT_EXCEEDED_PAUSE) from exc
                raise SalesforceRequestError(what, exc.status, exc.content) from exc
            except SalesforceError as exc:
                if exc.status < 500:
                    raise SalesforceRequestError(what, exc.status, exc.content) from exc
                if create and exc.status == 504:
                    raise UnansweredCreate(f"Salesforce {what}: 504") from exc
                failures += 1
                if failures > self._config.retries:
                    raise RetryableCRMError(f"Salesforce {what}: {exc.status}",
                                            retry_after=self._backoff(failures)) from exc
            except requests.RequestException as exc:
                if create and not isinstance(exc, NOT_SENT):
                    raise UnansweredCreate(f"Salesforce {what}: no answer ({exc})") from exc
                failures += 1
                if failures > self._config.retries:
                    raise RetryableCRMError(f"Salesforce {what}: no answer ({exc})",
                                            retry_after=self._backoff(failures)) from exc
            self._sleep(self._backoff(failures))

    def _check_budget(self, what: str) -> None:
        if self.usage is None:
            return
        used, limit = self.usage
        # A stale reading lets one call through: its answer tells whether the window rolled.
        fresh = self._monotonic() - self._usage_seen_at < BUDGET_RETRY_AFTER
        if fresh and used > self._config.api_share * limit:
            self._limiter.pause(self.key, BUDGET_RETRY_AFTER)  # every worker, not just us
            raise NotSentError(
                f"Salesforce {what}: the org has used {used} of its {limit} daily API "
                f"requests, past the connector's share ({self._config.api_share:.0%})",
                retry_after=BUDGET_RETRY_AFTER)

    def _note_usage(self, sf: Salesforce) -> None:
        usage = sf.api_usage.get("api-usage")
        if usage is not None:
            self.usage = (int(usage.used), int(usage.total))
            self._usage_seen_at = self._monotonic()

    def _client(self, token: str, instance_url: str) -> Salesforce:
        if self._sf is None or self._sf[0] != token:
            sf = Salesforce(instance_url=instance_url, session_id=token,
                            session=session_for(instance_url, self._session_factory),
                            version=API_VERSION)
            self._sf = (token, sf)
        return self._sf[1]

    def _backoff(self, failures: int) -> float:
        base = self._config.backoff * 2 ** (failures - 1)
        return random.uniform(base / 2, base)  # "equal jitter": never zero, never in step


def _first_error(content: Any) -> tuple[str | None, str]:
    """(errorCode, message) of Salesforce's JSON error list."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return first.get("errorCode"), str(first.get("message") or "")
    return None, str(content or "")[:200]
