"""The Redis rate limiter on a real Redis: one limit shared by many clients, pauses, timeouts."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from adapters.errors import RetryableCRMError
from connector.ratelimit import RedisRateLimiter


def _limiter(redis_url: str, **kwargs: object) -> RedisRateLimiter:
    return RedisRateLimiter(redis.Redis.from_url(redis_url), **kwargs)  # type: ignore[arg-type]


def test_two_threads_with_their_own_connections_share_one_limit(
    redis_conn: redis.Redis, redis_url: str
) -> None:
    admitted: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        limiter = _limiter(redis_url)
        for _ in range(6):
            limiter.acquire("hubspot:1", limit=4, window=0.5, timeout=10)
            with lock:
                admitted.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    admitted.sort()
    assert len(admitted) == 12
    # Never more than 4 in any 0.5 s (a margin for thread scheduling between the
    # admission in Redis and the timestamp here).
    gaps = [later - earlier for earlier, later in zip(admitted, admitted[4:], strict=False)]
    assert min(gaps) >= 0.4
    assert admitted[-1] - admitted[0] >= 2 * 0.5 * 0.8


def test_keys_are_independent(redis_conn: redis.Redis, redis_url: str) -> None:
    limiter = _limiter(redis_url)
    limiter.acquire("hubspot:1", limit=1, window=60, timeout=1)
    limiter.acquire("hubspot:2", limit=1, window=60, timeout=1)  # does not wait on portal 1
    with pytest.raises(RetryableCRMError):
        limiter.acquire("hubspot:1", limit=1, window=60, timeout=0.1)


def test_timeout_raises_retryable_with_the_wait_left(
    redis_conn: redis.Redis, redis_url: str
) -> None:
    limiter = _limiter(redis_url)
    limiter.acquire("k", limit=1, window=30, timeout=1)
    started = time.monotonic()
    with pytest.raises(RetryableCRMError) as caught:
        limiter.acquire("k", limit=1, window=30, timeout=0.5)
    assert time.monotonic() - started < 5  # it gives up at once: the wait exceeds the budget
    assert caught.value.retry_after is not None and 20 < caught.value.retry_after <= 30.1


def test_waiting_sleeps_instead_of_spinning(redis_conn: redis.Redis, redis_url: str) -> None:
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        time.sleep(seconds)

    limiter = _limiter(redis_url, sleep=sleep)
    limiter.acquire("k", limit=1, window=0.6, timeout=5)
    limiter.acquire("k", limit=1, window=0.6, timeout=5)
    assert 1 <= len(sleeps) <= 3
    assert sum(sleeps) >= 0.4


def test_pause_blocks_every_client_and_only_grows(
    redis_conn: redis.Redis, redis_url: str
) -> None:
    first, second = _limiter(redis_url), _limiter(redis_url)
    first.pause("hubspot:1", 0.8)
    first.pause("hubspot:1", 0.1)  # a shorter Retry-After does not cut the longer pause
    started = time.monotonic()
    second.acquire("hubspot:1", limit=100, window=10, timeout=5)
    assert time.monotonic() - started >= 0.6
    with pytest.raises(RetryableCRMError):
        first.pause("hubspot:1", 5)
        second.acquire("hubspot:1", limit=100, window=10, timeout=0.2)
    second.acquire("hubspot:2", limit=100, window=10, timeout=0.2)  # other keys run on


def test_redis_down_is_retryable_not_a_crash() -> None:
    # No client-side retries, so the test does not wait through redis-py's backoff.
    down = redis.Redis(unix_socket_path="/nonexistent/redis.sock", retry=Retry(NoBackoff(), 0))
    limiter = RedisRateLimiter(down)
    with pytest.raises(RetryableCRMError, match="rate limiter unavailable"):
        limiter.acquire("k", limit=1, window=1, timeout=1)
    with pytest.raises(RetryableCRMError, match="rate limiter unavailable"):
        limiter.pause("k", 1)
