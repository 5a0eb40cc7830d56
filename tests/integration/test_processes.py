"""Supervision and shutdown with real processes: nothing may outlive its parent."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.local.processes import Supervisor, die_with_parent

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PDEATHSIG is Linux-only"),
]

ROOT = Path(__file__).resolve().parents[2]

# A stand-in for `connector serve`: an embedded Redis and a supervised child, stopped on
# SIGINT/SIGTERM. With "stubborn" the first signal is only acknowledged.
PARENT = textwrap.dedent(
    """
    import json, sys, threading
    from pathlib import Path
    from connector.local.processes import Supervisor, install_shutdown_handlers
    from connector.local.redis_embedded import EmbeddedRedis

    stop = threading.Event()
    def on_signal(signum):
        print("SIGNALLED", signum, flush=True)
        if sys.argv[2] == "graceful":
            stop.set()
    install_shutdown_handlers(on_signal)
    with EmbeddedRedis(Path(sys.argv[1])) as server, Supervisor() as supervisor:
        child = supervisor.start("sleeper", ["sleep", "60"])
        ready = {"redis": server.pid, "child": child.pid, "socket": str(server.socket_path)}
        print("READY", json.dumps(ready), flush=True)
        while not stop.wait(0.05):
            pass
    """
)


def is_running(pid: int) -> bool:
    """Whether `pid` runs; a zombie counts as dead (and is reaped if it became ours)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    if stat.rpartition(")")[2].split()[0] == "Z":
        # Orphans go to init or the nearest subreaper, which may reap them late; if that
        # subreaper is this test process, reap them here.
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return False
    return True


def wait_gone(*pids: int, timeout: float = 5.0) -> list[int]:
    """Poll until every pid is gone; returns those still running after `timeout`."""
    deadline = time.monotonic() + timeout
    while (running := [pid for pid in pids if is_running(pid)]) and time.monotonic() < deadline:
        time.sleep(0.02)
    return running


def read_line(process: subprocess.Popen[str], prefix: str, timeout: float = 10.0) -> str:
    """The rest of the first stdout line starting with `prefix` (Redis logs share the pipe)."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while (remaining := deadline - time.monotonic()) > 0:
            if selector.select(remaining):
                line = process.stdout.readline()
                if not line:
                    break
                if line.startswith(prefix):
                    return line[len(prefix) :].strip()
    raise AssertionError(f"no {prefix!r} line from the parent (exit code {process.poll()})")


StartParent = Callable[[str], subprocess.Popen[str]]


@pytest.fixture
def parent(tmp_path: Path) -> Iterator[StartParent]:
    started: list[subprocess.Popen[str]] = []

    def start(mode: str) -> subprocess.Popen[str]:
        script = tmp_path / "parent.py"
        script.write_text(PARENT)
        argv = [sys.executable, str(script), str(tmp_path / "redis"), mode]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
        started.append(process)
        return process

    yield start
    for process in started:  # a failed test must not leave the parent (and so its children)
        process.kill()
        process.wait()
        assert process.stdout is not None
        process.stdout.close()


def ready(process: subprocess.Popen[str]) -> dict[str, Any]:
    info: dict[str, Any] = json.loads(read_line(process, "READY "))
    assert is_running(info["redis"]) and is_running(info["child"])
    return info


def test_children_die_when_the_parent_is_sigkilled(parent: StartParent) -> None:
    process = parent("graceful")
    info = ready(process)
    process.kill()
    assert process.wait(5) == -signal.SIGKILL
    assert wait_gone(info["redis"], info["child"]) == []
    assert not Path(info["socket"]).exists()  # Redis got SIGTERM, so it removed its socket


def test_sigterm_stops_everything_cleanly(parent: StartParent) -> None:
    process = parent("graceful")
    info = ready(process)
    process.terminate()
    assert process.wait(10) == 0
    assert wait_gone(info["redis"], info["child"], timeout=0.5) == []
    assert not Path(info["socket"]).exists()


def test_a_second_signal_forces_the_exit(parent: StartParent) -> None:
    process = parent("stubborn")
    info = ready(process)
    process.send_signal(signal.SIGINT)
    assert read_line(process, "SIGNALLED ") == str(int(signal.SIGINT))
    process.send_signal(signal.SIGTERM)
    assert process.wait(5) == 128 + signal.SIGTERM
    assert wait_gone(info["redis"], info["child"]) == []


def test_wait_any_names_the_child_that_exited() -> None:
    with Supervisor() as supervisor:
        supervisor.start("slow", ["sleep", "60"])
        supervisor.start("quick", ["sh", "-c", "exit 3"])
        assert supervisor.wait_any(timeout=5) == "quick"
        assert supervisor.returncodes() == {"slow": None, "quick": 3}
        with pytest.raises(ValueError, match="already running"):
            supervisor.start("slow", ["sleep", "60"])
        slow = supervisor.children["slow"].pid
    assert supervisor.returncodes() == {"slow": -signal.SIGTERM, "quick": 3}
    assert not is_running(slow)
    supervisor.stop()  # idempotent
    with pytest.raises(RuntimeError, match="stopping"):
        supervisor.start("late", ["true"])


def test_wait_any_times_out_while_all_run() -> None:
    with Supervisor() as supervisor:
        assert supervisor.wait_any(timeout=0) is None  # no children: never blocks
        supervisor.start("slow", ["sleep", "60"])
        started = time.monotonic()
        assert supervisor.wait_any(timeout=0.2) is None
        assert 0.2 <= time.monotonic() - started < 1.0


def test_stop_kills_a_child_that_ignores_sigterm(tmp_path: Path) -> None:
    ready_file = tmp_path / "ready"
    stubborn = (
        "import pathlib, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "pathlib.Path(sys.argv[1]).touch(); time.sleep(60)"
    )
    supervisor = Supervisor()
    supervisor.start("stubborn", [sys.executable, "-c", stubborn, str(ready_file)])
    deadline = time.monotonic() + 5
    while not ready_file.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    supervisor.stop(timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 2.0
    assert supervisor.returncodes() == {"stubborn": -signal.SIGKILL}


def test_a_child_whose_parent_is_already_gone_kills_itself() -> None:
    # The race die_with_parent guards: the parent died between fork and prctl, so the
    # child's parent pid is no longer the one captured before the fork (here: never was).
    not_our_pid = -1
    child = subprocess.Popen(["sleep", "60"], preexec_fn=lambda: die_with_parent(not_our_pid))
    assert child.wait(5) == -signal.SIGKILL
