"""Redis for the test suite: an embedded server per session, or TEST_REDIS_URL if set.

Import the fixtures into `tests/conftest.py`. Each test gets its database flushed first
(FLUSHDB, never FLUSHALL); a shared server's db 0 is refused so a run cannot wipe it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

from connector.local.redis_embedded import EmbeddedRedis

__all__ = ["check_test_redis_url", "redis_conn", "redis_url"]


def check_test_redis_url(url: str) -> str:
    """Return `url` if it names a non-zero database; flushing db 0 of a shared server is a no."""
    try:  # from_url only parses; it connects on first use
        db = int(redis.Redis.from_url(url).connection_pool.connection_kwargs.get("db", 0))
    except ValueError as exc:
        raise pytest.UsageError(f"TEST_REDIS_URL={url!r} is not a valid Redis URL: {exc}") from exc
    if db == 0:
        raise pytest.UsageError(
            f"TEST_REDIS_URL={url!r} uses database 0; tests FLUSHDB before each test, so name "
            "a dedicated non-zero database, e.g. redis://127.0.0.1:6379/15"
        )
    return url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """TEST_REDIS_URL when set, else the url of an embedded server living for the session."""
    external = os.environ.get("TEST_REDIS_URL")
    if external:
        yield check_test_redis_url(external)
        return
    with EmbeddedRedis(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[redis.Redis]:
    """A client on the test database, flushed before the test (bytes replies, as rq needs)."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    try:
        yield client
    finally:
        client.close()
