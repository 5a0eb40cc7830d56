"""Real `connector worker` processes on the test's database and Redis, for fault tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from connector.settings import Settings


def worker_environment(settings: Settings, redis_url: str, **overrides: str) -> dict[str, str]:
    """What a worker child needs to see the test's database, Redis and definitions."""
    return {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": settings.sqlalchemy_url,
        "REDIS_URL": redis_url,
        "MAIL_URL": settings.mail,
        "MAIL_FROM": settings.mail_from,
        "PUBLIC_BASE_URL": settings.base_url,
        "VAR_DIR": str(settings.var_dir),
        "SECRET_KEY": settings.secret_key or "",
        "ENCRYPTION_KEYS": settings.encryption_keys or "",
        "FLOWS_DIR": str(settings.flows_dir),
        "TEMPLATES_DIR": str(settings.templates_dir),
        "SEGMENTS_DIR": str(settings.segments_dir),
        **overrides,
    }


@contextmanager
def worker_process(
    settings: Settings, redis_url: str, *args: str, **env: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`connector worker ARGS` as a child process, killed (and reaped) on exit."""
    child = subprocess.Popen(
        [sys.executable, "-m", "connector", "worker", *args],
        env=worker_environment(settings, redis_url, **env),
    )
    try:
        yield child
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> float:
    """Poll `condition` every 20 ms; the seconds it took, or AssertionError naming `what`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.02)
    return time.monotonic() - started
