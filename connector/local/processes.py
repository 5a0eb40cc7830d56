"""Child processes that never outlive their parent, and the signals that stop them.

On Linux every child asks the kernel for SIGTERM when its parent dies (PR_SET_PDEATHSIG),
so even a SIGKILLed `connector serve` leaves no orphan. Elsewhere (macOS) that is a
no-op and only an orderly stop, or a terminal Ctrl-C reaching the process group, ends them.

Process groups: by default children stay in the parent's group (`new_process_group=False`),
so a terminal Ctrl-C or hangup reaches them directly -- the only safety net where there is
no PDEATHSIG. The price: such a child gets the terminal's SIGINT *and* the supervisor's
SIGTERM, and rq reads a second signal as "cold shutdown". Pass `new_process_group=True`
for children whose shutdown order matters (the embedded Redis does on Linux): then only
the parent signals them, and PDEATHSIG still ties them to it.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
import signal
import subprocess
import sys
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import NoReturn

__all__ = [
    "DIES_WITH_PARENT",
    "Supervisor",
    "die_with_parent",
    "install_shutdown_handlers",
    "spawn",
    "terminate",
]

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_IS_LINUX = sys.platform.startswith("linux")
DIES_WITH_PARENT = _IS_LINUX  # whether spawned children are guaranteed to die with us
_POLL_INTERVAL = 0.05

# Every child from `spawn` that may still run, so a forced exit can take them along.
_live_children: weakref.WeakSet[subprocess.Popen[bytes]] = weakref.WeakSet()


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's prctl, resolved once in the parent so the forked child only makes syscalls."""
    if not _IS_LINUX:
        return None
    prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    return prctl


def die_with_parent(parent_pid: int | None = None) -> None:
    """preexec_fn: have the kernel SIGTERM this process when its parent dies (Linux only).

    `parent_pid` is the parent's pid as seen before the fork; if the parent died between
    the fork and the prctl call the signal would never come, so the child kills itself.
    Note the kernel tracks the parent *thread*: spawn from a thread that outlives the child
    (the main thread), or the child is terminated when that thread exits.
    """
    prctl = _prctl()
    if prctl is None:
        return
    if prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if parent_pid is not None and os.getppid() != parent_pid:
        # Nothing was exec'd yet, so there is nothing to shut down gracefully.
        os.kill(os.getpid(), signal.SIGKILL)


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    name: str | None = None,
    new_process_group: bool = False,
) -> subprocess.Popen[bytes]:
    """Start `argv` as a child that dies with this process; stdout/stderr are inherited.

    stdin is /dev/null so children never compete for (or stop on) the terminal. Call it
    from the main thread: PDEATHSIG fires when the spawning *thread* exits.
    """
    _prctl()  # resolve before fork
    process = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        preexec_fn=functools.partial(die_with_parent, os.getpid()) if _IS_LINUX else None,
        process_group=0 if new_process_group else None,
    )
    _live_children.add(process)
    # Not the whole argv: it may carry a URL with a password.
    log.info("started %s (pid %d)", name or argv[0], process.pid)
    return process


def _signal(process: subprocess.Popen[bytes], signum: int) -> None:
    """Send `signum` unless the child is already reaped (Popen.send_signal checks that)."""
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signum)


def terminate(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    """SIGTERM, wait up to `timeout`, then SIGKILL and reap; returns the exit code."""
    _signal(process, signal.SIGTERM)
    return reap(process, timeout)


def reap(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    """Wait up to `timeout` for an already signalled child, then SIGKILL it."""
    try:
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("pid %d ignored SIGTERM for %.1fs; killing it", process.pid, timeout)
        _signal(process, signal.SIGKILL)
        try:
            return process.wait(5.0)
        except subprocess.TimeoutExpired:  # stuck in the kernel (D state); nothing more to do
            log.error("pid %d survived SIGKILL", process.pid)
            return None
    finally:
        _live_children.discard(process)


# A child started with `restart=True` that exits is started again after a backoff that
# doubles per exit in a row (0.5 s, 1 s, 2 s ... 10 s): a crash loop does not spin, a
# one-off death costs half a second. A child that ran a minute starts the count over.
RESTART_FIRST, RESTART_CAP, RESTART_RESET_AFTER = 0.5, 10.0, 60.0


def describe_exit(code: int) -> str:
    """`exit code 1`, or `killed by SIGKILL` for a negative Popen return code."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


@dataclass
class _Spec:
    """How a child was started, to start it again."""

    argv: list[str]
    env: Mapping[str, str] | None
    cwd: Path | None
    new_process_group: bool
    restart: bool
    started_at: float = field(default_factory=time.monotonic)
    exits_in_a_row: int = 0
    restart_at: float | None = None


class Supervisor:
    """A set of named children, stopped together (SIGTERM, grace period, SIGKILL); those
    started with `restart=True` are started again when they exit (see `supervise`)."""

    def __init__(self) -> None:
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._specs: dict[str, _Spec] = {}
        self._stopping = False
        self._stopped = False

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        new_process_group: bool = False,
        restart: bool = False,
    ) -> subprocess.Popen[bytes]:
        """Spawn a child under `name`; a name may be reused once its child has exited."""
        previous = self._children.get(name)
        if previous is not None and previous.poll() is None:
            raise ValueError(f"child {name!r} is already running (pid {previous.pid})")
        self._specs[name] = _Spec(list(argv), env, cwd, new_process_group, restart)
        return self._spawn(name)

    def _spawn(self, name: str) -> subprocess.Popen[bytes]:
        if self._stopping or self._stopped:
            raise RuntimeError("supervisor is stopping; not starting " + name)
        spec = self._specs[name]
        process = spawn(
            spec.argv,
            env=spec.env,
            cwd=spec.cwd,
            name=name,
            new_process_group=spec.new_process_group,
        )
        spec.started_at, spec.restart_at = time.monotonic(), None
        self._children[name] = process
        if self._stopping or self._stopped:  # a signal handler stopped us mid-spawn
            terminate(process, timeout=5.0)
            raise RuntimeError("supervisor stopped while starting " + name)
        return process

    @property
    def children(self) -> Mapping[str, subprocess.Popen[bytes]]:
        """The children by name, exited ones included."""
        return dict(self._children)

    def returncodes(self) -> dict[str, int | None]:
        """Exit code per child (negative: killed by that signal); None while running."""
        return {name: process.poll() for name, process in self._children.items()}

    def wait_any(self, timeout: float | None = None) -> str | None:
        """Block until some child has exited and return its name; None on timeout.

        An exited child keeps being reported (until restarted), so callers usually stop()
        or restart it next. With no children at all this returns None at once.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._children:
            for name, process in list(self._children.items()):
                if process.poll() is not None:
                    return name
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            time.sleep(_POLL_INTERVAL if remaining is None else min(_POLL_INTERVAL, remaining))
        return None

    def supervise(self) -> str | None:
        """Restart the children that exited and were started with `restart=True`, each
        after its backoff, logging why; returns the name of an exited child that is not
        restarted (the caller decides), else None. Call it from the main thread, often."""
        if self._stopping or self._stopped:
            return None
        now = time.monotonic()
        for name, process in list(self._children.items()):
            code = process.poll()
            if code is None:
                continue
            spec = self._specs[name]
            if not spec.restart:
                return name
            if spec.restart_at is None:
                ran = now - spec.started_at
                spec.exits_in_a_row = 1 if ran > RESTART_RESET_AFTER else spec.exits_in_a_row + 1
                delay = min(RESTART_FIRST * 2 ** (spec.exits_in_a_row - 1), RESTART_CAP)
                spec.restart_at = now + delay
                log.error(
                    "%s (pid %d) exited, %s, after %.1fs; restarting it in %.1fs",
                    name, process.pid, describe_exit(code), ran, delay,
                )  # fmt: skip
            elif now >= spec.restart_at:
                self._spawn(name)
        return None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM every child, wait up to `timeout` in total, SIGKILL stragglers, reap all.

        Idempotent; a call made while a stop is in progress (a signal handler interrupting
        it) returns at once and lets the first one finish.
        """
        if self._stopped or self._stopping:
            return
        self._stopping = True
        try:
            running = [p for p in self._children.values() if p.poll() is None]
            for process in running:
                _signal(process, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            for process in running:  # signalled once: rq reads a second SIGTERM as "cold"
                reap(process, max(0.0, deadline - time.monotonic()))
            for name, code in self.returncodes().items():
                log.info("child %s exited with %s", name, code)
            self._stopped = True
        finally:
            self._stopping = False

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def install_shutdown_handlers(callback: Callable[[int], None]) -> None:
    """On the first SIGINT/SIGTERM call `callback(signum)`; on the second, force an exit.

    The callback runs in the main thread between bytecodes, possibly inside a blocking call
    of the main loop: keep it short (set an event, ask the server to stop from a thread).
    Forcing SIGKILLs every child started with `spawn` and exits with 128 + signum at once.
    Must be called from the main thread.
    """
    fired = False

    def handle(signum: int, frame: FrameType | None) -> None:
        nonlocal fired
        if not fired:
            fired = True
            log.info("received %s; shutting down", signal.Signals(signum).name)
            callback(signum)
            return
        _force_exit(signum)

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def _force_exit(signum: int) -> NoReturn:
    log.warning("received %s again; forcing exit", signal.Signals(signum).name)
    for process in list(_live_children):
        _signal(process, signal.SIGKILL)
    os._exit(128 + signum)
