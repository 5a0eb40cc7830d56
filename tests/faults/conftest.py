"""Real processes for the fault tests: an embedded Redis the test can stop and start again
on the same socket, a migrated SQLite file per test, `connector worker` / `connector serve`
started as subprocesses with their output in a file, and /proc helpers to see what they
started. Everything a test started is killed at the end, orphans included."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from rq import Queue

from connector.local.redis_embedded import EmbeddedRedis
from connector.migrate import upgrade
from tests.faults import jobs
from tests.support.paths import ROOT

# --- /proc ---------------------------------------------------------------------------------


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return children


def children(pid: int) -> set[int]:
    """The live processes whose parent is `pid`."""
    return {p for p in _children_by_parent().get(pid, []) if alive(p)}


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (children, their children, ...)."""
    by_parent = _children_by_parent()
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in by_parent.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return {p for p in found if alive(p)}


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_for(
    predicate: Callable[[], object], timeout: float, message: str, interval: float = 0.05
) -> None:
    """Poll `predicate` until it is true; fail with `message` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} (after {timeout}s)")
        time.sleep(interval)


# --- Redis and the database ----------------------------------------------------------------


@pytest.fixture
def redis_server() -> Iterator[EmbeddedRedis]:
    """An embedded Redis in a short directory, so a restart reuses the same socket path."""
    directory = Path(tempfile.mkdtemp(prefix="crf-", dir="/tmp"))
    server = EmbeddedRedis(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def redis_client(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    """The test's own client (it reconnects by itself after a restart)."""
    connection = redis.Redis.from_url(redis_server.url)
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per session; each test gets a copy."""
    path = tmp_path_factory.mktemp("faults-db") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def fault_database_url(tmp_path: Path, migrated_template: Path) -> str:
    path = tmp_path / "connector.sqlite3"
    shutil.copy(migrated_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a process under test: nothing inherited names a real service."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL", "MAIL_URL", "PORT")
    }
    env.update(
        APP_ENV="test",
        VAR_DIR=str(tmp_path / "var"),
        MAIL_URL=f"outbox://{tmp_path / 'outbox'}",
        SECRET_KEY="fault-test-secret",
        ENCRYPTION_KEYS="mWj1fPqlNJcF3Y6sP4X2lU6k3oX0C9wZ2bq8yPZ0pDE=",
        FLOWS_DIR=str(ROOT / "flows"),
        TEMPLATES_DIR=str(ROOT / "templates"),
        SEGMENTS_DIR=str(ROOT / "segments"),
        SCHEDULER_INTERVAL="0.5",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def env(
    base_env: dict[str, str], redis_server: EmbeddedRedis, fault_database_url: str
) -> dict[str, str]:
    """`base_env` on the test's Redis and migrated database."""
    return {**base_env, "REDIS_URL": redis_server.url, "DATABASE_URL": fault_database_url}


# --- processes -----------------------------------------------------------------------------


@dataclass
class Started:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        """What it printed so far (stdout and stderr)."""
        return self.log_path.read_text(errors="replace")

    def running(self) -> bool:
        return self.popen.poll() is None


class Processes:
    """`connector ...` subprocesses of one test, each in its own process group, killed with
    whatever they started when the test ends (a failing test must not leave orphans)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[Started] = []
        self.seen: set[int] = set()  # every descendant ever observed, to kill orphans too

    def connector(self, *args: str, env: dict[str, str], name: str | None = None) -> Started:
        name = name or f"{args[0]}-{len(self.started) + 1}"
        log_path = self.directory / f"{name}.log"
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                [sys.executable, "-m", "connector", *args],
                env=env,
                cwd=ROOT,  # so the worker imports tests.faults.jobs
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = Started(name, popen, log_path)
        self.started.append(started)
        return started

    def descendants(self, started: Started) -> set[int]:
        found = descendants(started.pid)
        self.seen |= found
        return found

    def cleanup(self) -> None:
        for started in self.started:
            if started.running():
                self.seen |= descendants(started.pid)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(started.pid, signal.SIGKILL)
                started.popen.wait(10)
        for pid in self.seen:  # orphans re-parented away from us, by the pids we saw
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


@pytest.fixture
def processes(
    tmp_path: Path, request: pytest.FixtureRequest, redis_server: EmbeddedRedis
) -> Iterator[Processes]:
    # On the Redis fixture, so the processes are stopped before their Redis is.
    running = Processes(tmp_path)
    try:
        yield running
    finally:
        running.cleanup()
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            for started in running.started:
                print(f"----- {started.name} (pid {started.pid}) -----\n{started.output()}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report


def answers_ready(port: int) -> bool:
    """Whether a web server on `port` answers /readyz with 200."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


# --- jobs ----------------------------------------------------------------------------------


def enqueue(connection: redis.Redis, queue: str, function: str, *args: object, **options: object):  # type: ignore[no-untyped-def]
    """Put a test job (tests.faults.jobs.<function>) on one of the real queues."""
    return Queue(queue, connection=connection).enqueue(
        f"tests.faults.jobs.{function}", *args, **options
    )


def logged(connection: redis.Redis) -> list[str]:
    """The names the test jobs logged, in order."""
    return [item.decode() for item in connection.lrange(jobs.LOG, 0, -1)]


def wait_logged(connection: redis.Redis, name: str, timeout: float, worker: Started) -> None:
    """Wait until a job logged `name`; fail early, with the worker's output, if it exited."""

    def done() -> bool:
        if not worker.running() and name not in logged(connection):
            raise AssertionError(
                f"{worker.name} exited with {worker.popen.returncode} before {name!r} ran:\n"
                + worker.output()
            )
        return name in logged(connection)

    wait_for(done, timeout, f"{name!r} was not done; log {logged(connection)}")


def start_worker(
    processes: Processes,
    connection: redis.Redis,
    env: dict[str, str],
    *args: str,
    queue: str = "events",
    name: str | None = None,
) -> Started:
    """A `connector worker ARGS` process, returned once it has run a job from `queue`."""
    worker = processes.connector("worker", *args, env=env, name=name)
    marker = f"ready:{worker.name}"
    enqueue(connection, queue, "record", marker)
    wait_logged(connection, marker, 20, worker)
    return worker
