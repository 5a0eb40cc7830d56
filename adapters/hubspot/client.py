"""The one place HTTP to HubSpot happens. Every call waits for a slot under the portal's
shared rate limit, carries a timeout, and maps what HubSpot answers into adapters.errors:
429 pauses every worker and retries a few times; 5xx, timeouts and lost connections retry
with jittered exponential backoff; a 401 refreshes the token once; other 4xx are permanent.
A create (`create=True`) that got no answer after it was sent is never sent again in-call:
HubSpot's creates have no idempotency key, so it raises UnansweredCreate for the caller to
look for what may have landed.

The object APIs go through hubspot-api-client; we read its raw answers
(`_preload_content=False`) because its generated models return None for a status they do
not expect and reject enum values HubSpot adds later. Endpoints it lacks (communication
preferences v4) go through one requests.Session with the same handling.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import requests
import urllib3
from hubspot import HubSpot
from hubspot.crm.associations.v4 import exceptions as associations_errors
from hubspot.crm.contacts import exceptions as contacts_errors
from hubspot.crm.objects import exceptions as objects_errors
from hubspot.crm.objects.emails import exceptions as emails_errors
from hubspot.crm.objects.tasks import exceptions as tasks_errors
from hubspot.crm.properties import exceptions as properties_errors

from adapters.errors import PermanentCRMError, RetryableCRMError
from adapters.hubspot.tokens import AccountTokens
from adapters.port import RateLimiter

# Each SDK sub-package has its own exception tree; these are its roots.
SDK_ERRORS: tuple[type[Exception], ...] = (
    contacts_errors.OpenApiException, objects_errors.OpenApiException,
    emails_errors.OpenApiException, tasks_errors.OpenApiException,
    properties_errors.OpenApiException, associations_errors.OpenApiException,
)
# Errors raised before a byte of the request left: sending it again cannot write twice.
NOT_SENT: tuple[type[Exception], ...] = (urllib3.exceptions.ConnectTimeoutError,
                                         requests.ConnectTimeout)
# Our window is a little longer than HubSpot's (4%, at most 400 ms): a request we admit the
# instant a slot frees must not reach HubSpot while its window still counts the request
# that held the slot, though the slot is taken before the body is built and sent (with 2%
# / 100 ms, two workers saw one or two 429s a minute in bench/writeback.py). The cost:
# at most 4% of the ceiling.
WINDOW_MARGIN, MAX_WINDOW_MARGIN = 0.04, 0.4
# A 429 without Retry-After: the rolling window frees slots as old requests age out, so a
# second frees some without idling the portal for a whole window.
DEFAULT_429_PAUSE = 1.0


@dataclass(frozen=True)
class HubSpotConfig:
    api_base: str
    client_id: str | None
    client_secret: str | None
    rate_limit: tuple[int, float] = (110, 10.0)  # requests per window (s), per portal
    search_rate: float = 5.0  # search requests per second, per portal
    timeout: float = 10.0  # seconds per request
    retries: int = 3  # tries after the first on a 5xx, a timeout or a lost connection
    backoff: float = 0.5  # seconds before the first retry; doubles, jittered
    rate_limit_retries: int = 3  # 429s absorbed inline before the call is handed back
    acquire_timeout: float = 30.0  # longest wait for a slot under the shared limit
    # A create that got no answer may still land: the waits before each look for it, in
    # multiples of `timeout` (after the last, what was not found is handed back).
    unanswered_looks: tuple[float, ...] = (0.5, 1.0, 2.0)


@dataclass(frozen=True)
class Reply:
    status: int
    data: Any  # the JSON body, or None


class HubSpotHTTPError(Exception):
    """A non-2xx answer, before it is mapped into adapters.errors."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes | None) -> None:
        super().__init__(status)
        self.status = status
        self.headers = {k.lower(): v for k, v in (headers or {}).items()}
        self.body = _json(body)

    @property
    def message(self) -> str:
        if isinstance(self.body, dict) and self.body.get("message"):
            return str(self.body["message"])
        return f"HTTP {self.status}"

    @property
    def category(self) -> str | None:
        return self.body.get("category") if isinstance(self.body, dict) else None


class _NetworkError(Exception):
    """No answer: a timeout, a refused or dropped connection. `sent`: the request may have
    reached HubSpot (a read timeout, a connection dropped after sending)."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


class UnansweredCreate(RetryableCRMError):
    """A create got no answer after it was sent: HubSpot may have carried it out. Not sent
    again in-call; the caller looks for what landed before creating anything again."""


class SdkApis:
    """The SDK's API objects for one token (each builds its own connection pool, so they are
    built once and reused)."""

    def __init__(self, token: str, api_base: str) -> None:
        self._client = HubSpot(access_token=token, host=api_base.rstrip("/"), retry=False)

    @cached_property
    def contacts_basic(self) -> Any:
        return self._client.crm.contacts.basic_api

    @cached_property
    def contacts_batch(self) -> Any:
        return self._client.crm.contacts.batch_api

    @cached_property
    def contacts_search(self) -> Any:
        return self._client.crm.contacts.search_api

    @cached_property
    def emails_batch(self) -> Any:
        return self._client.crm.objects.emails.batch_api

    @cached_property
    def associations_batch(self) -> Any:
        return self._client.crm.associations.v4.batch_api

    @cached_property
    def tasks_batch(self) -> Any:
        return self._client.crm.objects.tasks.batch_api

    @cached_property
    def property_groups(self) -> Any:
        return self._client.crm.properties.groups_api

    @cached_property
    def properties_core(self) -> Any:
        return self._client.crm.properties.core_api

    @cached_property
    def properties_batch(self) -> Any:
        return self._client.crm.properties.batch_api


SdkCall = Callable[[SdkApis, dict[str, Any]], Any]


class HubSpotClient:
    """Calls for one account's portal; `sdk` and `rest` return the parsed answer or raise
    RetryableCRMError / PermanentCRMError / DisconnectedError (never an SDK exception)."""

    def __init__(self, *, tokens: AccountTokens, limiter: RateLimiter, config: HubSpotConfig,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._tokens = tokens
        self._limiter = limiter
        self._config = config
        self._sleep = sleep
        self._apis: tuple[str, SdkApis] | None = None
        self._session = requests.Session()

    @property
    def config(self) -> HubSpotConfig:
        return self._config

    def wait(self, seconds: float) -> None:
        """Sleep on the client's clock (tests pass a fake sleep)."""
        self._sleep(seconds)

    def sdk(self, what: str, call: SdkCall, *, search: bool = False,
            create: bool = False) -> Reply:
        """`call(apis, options)` must pass `**options` (the timeout, raw answers) to the SDK.
        `create`: the call makes records, so an unanswered one raises UnansweredCreate."""
        options = {"_request_timeout": self._config.timeout, "_preload_content": False}

        def send(token: str) -> Reply:
            try:
                response = call(self._sdk_apis(token), options)
            except SDK_ERRORS as exc:
                status = getattr(exc, "status", None)
                if status is None:  # the SDK refused our arguments before sending
                    raise PermanentCRMError(f"HubSpot {what}: {exc}") from exc
                if status == 0:  # its wrapping of SSL and similar transport errors
                    raise _NetworkError(getattr(exc, "reason", ""), sent=True) from exc
                raise HubSpotHTTPError(status, dict(exc.headers or {}),  # type: ignore[attr-defined]
                                       exc.body) from exc  # type: ignore[attr-defined]
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise _NetworkError(str(exc), sent=not isinstance(exc, NOT_SENT)) from exc
            try:
                body = response.data
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise _NetworkError(str(exc), sent=True) from exc
            finally:
                response.release_conn()
            return Reply(response.status, _json(body))

        return self._with_retries(what, send, search=search, create=create)

    def rest(self, what: str, method: str, path: str, *, params: dict[str, str] | None = None,
             body: Any = None) -> Reply:
        url = self._config.api_base.rstrip("/") + path

        def send(token: str) -> Reply:
            try:
                response = self._session.request(
                    method, url, params=params, json=body, timeout=self._config.timeout,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
            except requests.RequestException as exc:
                reason = getattr(exc.args[0], "reason", None) if exc.args else None
                raise _NetworkError(str(exc), sent=not isinstance(exc, NOT_SENT) and not
                                    isinstance(reason, NOT_SENT)) from exc
            if not 200 <= response.status_code < 300:
                raise HubSpotHTTPError(response.status_code, response.headers, response.content)
            return Reply(response.status_code, _json(response.content))

        return self._with_retries(what, send, search=False, create=False)

    def _with_retries(self, what: str, send: Callable[[str], Reply], *, search: bool,
                      create: bool) -> Reply:
        refreshed = False
        rate_limited = failures = 0
        while True:
            token = self._tokens.current().access_token
            key = self._acquire(search)
            try:
                return send(token)
            except HubSpotHTTPError as err:
                if err.status == 401:
                    if refreshed:
                        raise RetryableCRMError(
                            f"HubSpot {what}: a freshly refreshed token was refused: "
                            f"{err.message}") from err
                    refreshed = True
                    self._tokens.refresh(stale=token)
                    continue
                if err.status == 429:
                    wait = _rate_limit_wait(err)
                    self._limiter.pause(key, wait)
                    rate_limited += 1
                    if rate_limited > self._config.rate_limit_retries:
                        raise RetryableCRMError(f"HubSpot {what}: rate limited ({err.message})",
                                                retry_after=wait) from err
                    continue  # the next acquire sleeps through the pause
                if err.status < 500:
                    raise HubSpotRequestError(what, err) from err
                if create and err.status == 504:  # a gateway gave up waiting on HubSpot
                    raise UnansweredCreate(f"HubSpot {what}: 504 {err.message}") from err
                failures += 1
                if failures > self._config.retries:
                    raise RetryableCRMError(f"HubSpot {what}: {err.status} {err.message}",
                                            retry_after=self._backoff(failures)) from err
            except _NetworkError as err:
                if create and err.sent:
                    raise UnansweredCreate(f"HubSpot {what}: no answer ({err})") from err
                failures += 1
                if failures > self._config.retries:
                    raise RetryableCRMError(f"HubSpot {what}: no answer ({err})",
                                            retry_after=self._backoff(failures)) from err
            self._sleep(self._backoff(failures))

    def _acquire(self, search: bool) -> str:
        portal = self._tokens.portal
        if search:
            key, limit, window = f"hubspot:{portal}:search", self._config.search_rate, 1.0
            # A fractional rate (2.5/s) becomes whole requests over a longer window.
            limit, window = (int(limit), 1.0) if limit >= 1 else (1, 1.0 / limit)
        else:
            key = f"hubspot:{portal}"
            limit, window = self._config.rate_limit
        margin = min(window * WINDOW_MARGIN, MAX_WINDOW_MARGIN)
        self._limiter.acquire(key, limit=int(limit), window=window + margin,
                              timeout=self._config.acquire_timeout)
        return key

    def _backoff(self, failures: int) -> float:
        base = self._config.backoff * 2 ** (failures - 1)
        return random.uniform(base / 2, base)  # "equal jitter": never zero, never in step

    def _sdk_apis(self, token: str) -> SdkApis:
        if self._apis is None or self._apis[0] != token:
            self._apis = (token, SdkApis(token, self._config.api_base))
        return self._apis[1]


class HubSpotRequestError(PermanentCRMError):
    """HubSpot refused the request itself (a 4xx other than 401 and 429)."""

    def __init__(self, what: str, err: HubSpotHTTPError) -> None:
        super().__init__(f"HubSpot {what}: {err.status} {err.message}")
        self.status = err.status
        self.category = err.category
        self.body = err.body


def _rate_limit_wait(err: HubSpotHTTPError) -> float:
    retry_after = err.headers.get("retry-after")
    if retry_after:
        try:
            return max(0.05, float(retry_after))
        except ValueError:
            pass
    if isinstance(err.body, dict) and err.body.get("policyName") == "SECONDLY":
        return 1.0
    interval = err.headers.get("x-hubspot-ratelimit-interval-milliseconds")
    try:
        window = float(interval) / 1000 if interval else DEFAULT_429_PAUSE
    except ValueError:
        window = DEFAULT_429_PAUSE
    return min(window, DEFAULT_429_PAUSE)


def _json(body: bytes | str | None) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None  # an HTML error page from a proxy
