"""A rate limiter in Redis that every worker on every machine shares (the RateLimiter port):
a rolling window per key (HubSpot counts its 110 requests per 10 s the same way), decided
in one Lua script on Redis's own clock so that no two processes can take the same slot and
no machine's clock skew matters.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import redis
from redis.commands.core import Script

from adapters.errors import NotSentError, RetryableCRMError

# KEYS[1]: the window (a sorted set of admitted requests scored by ms), KEYS[2]: the pause.
# ARGV: limit, window ms, a unique member. Returns 0 when admitted, else the ms to wait.
_ACQUIRE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then
  return paused
end
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now + 1)
"""

# A pause only ever grows: a short Retry-After cannot cut a longer one another worker set.
_PAUSE = """
local ms = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < ms then
  redis.call('SET', KEYS[1], '1', 'PX', ms)
end
return 0
"""

# Waiters woken at the same moment would all hit Redis at once; a little jitter spreads them.
_JITTER = 0.005


class RedisRateLimiter:
    """`acquire` sleeps until a slot is free (never spins), `pause` stops everyone."""

    def __init__(self, redis_client: redis.Redis, *, prefix: str = "ratelimit",
                 sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._redis = redis_client
        self._prefix = prefix
        self._sleep = sleep
        self._monotonic = monotonic
        self._acquire: Script = redis_client.register_script(_ACQUIRE)
        self._pause: Script = redis_client.register_script(_PAUSE)

    def acquire(self, key: str, *, limit: int, window: float, timeout: float) -> None:
        if limit < 1 or window <= 0:
            raise ValueError(f"a rate needs limit >= 1 and window > 0, got {limit}/{window}")
        window_ms = max(1, round(window * 1000))
        deadline = self._monotonic() + timeout
        while True:
            wait = self._try(key, limit, window_ms) / 1000
            if wait <= 0:
                return
            remaining = deadline - self._monotonic()
            if wait > remaining:
                raise NotSentError(
                    f"rate limit for {key}: no slot within {timeout:g}s", retry_after=wait
                )
            self._sleep(wait + random.uniform(0, _JITTER))

    def pause(self, key: str, seconds: float) -> None:
        if seconds <= 0:
            return
        try:
            self._pause(keys=[self._key(key, "pause")], args=[max(1, round(seconds * 1000))])
        except redis.RedisError as exc:
            raise RetryableCRMError(f"rate limiter unavailable: {exc}") from exc

    def _try(self, key: str, limit: int, window_ms: int) -> int:
        member = f"{time.time_ns()}:{random.getrandbits(48):x}"
        try:
            wait = self._acquire(
                keys=[self._key(key, "window"), self._key(key, "pause")],
                args=[limit, window_ms, member],
            )
        except redis.RedisError as exc:
            raise RetryableCRMError(f"rate limiter unavailable: {exc}") from exc
        return int(wait)

    def _key(self, key: str, part: str) -> str:
        return f"{self._prefix}:{key}:{part}"
