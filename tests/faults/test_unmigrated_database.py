"""Issue 7: a database that is not at the latest migration. `connector worker` refuses it in
one line naming `connector db upgrade`; `connector serve` migrates the SQLite file it was
pointed at (a laptop database: serve owns it) and then works."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import redis

from connector.local.redis_embedded import EmbeddedRedis
from connector.migrate import current_revision, head_revision, upgrade
from tests.faults.conftest import Processes, answers_ready, enqueue, wait_for, wait_logged
from tests.support.smtp import free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc"),
]


@pytest.mark.parametrize("revision", [None, "0001"], ids=["never-migrated", "behind"])
def test_worker_refuses_a_database_behind_the_latest_migration_in_one_line(
    processes: Processes,
    base_env: dict[str, str],
    redis_server: EmbeddedRedis,
    tmp_path: Path,
    revision: str | None,
) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    if revision:
        upgrade(url, revision)
    env = {**base_env, "REDIS_URL": redis_server.url, "DATABASE_URL": url}
    worker = processes.connector("worker", env=env)
    assert worker.popen.wait(20) == 1
    output = worker.output()
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and "connector db upgrade" in lines[0], output
    assert current_revision(url) == revision  # a worker never changes the schema


def test_serve_migrates_the_sqlite_database_it_is_given(
    processes: Processes,
    base_env: dict[str, str],
    redis_server: EmbeddedRedis,
    redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'laptop.sqlite3'}"
    port = free_port()
    env = {**base_env, "REDIS_URL": redis_server.url, "DATABASE_URL": url, "PORT": str(port)}
    serve = processes.connector("serve", env=env, name="serve")

    def ready() -> bool:
        assert serve.running(), serve.output()
        return answers_ready(port)

    wait_for(ready, 30, "connector serve did not become ready")
    assert current_revision(url) == head_revision()
    enqueue(redis_client, "events", "record", "through-serve")
    wait_logged(redis_client, "through-serve", 10, serve)
    # Its worker started on the migrated schema (a tick ran on it) and nothing exited.
    wait_for(lambda: redis_client.get("connector:scheduler:tick"), 5, "no scheduler tick")
    assert serve.running()
    output = serve.output()
    assert "no such table" not in output and "exited" not in output, output
