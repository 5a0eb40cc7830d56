"""Postfix's `smtp-sink` and `smtp-source` for the delivery benches (DESIGN §7).

`smtp-sink` is THE sink of every delivery bench: the connector's workers and the
`smtp-source` yardstick send into the same kind of sink, started the same way. aiosmtpd
cannot be the yardstick's sink: it accepts a few hundred messages/s where `smtp-sink`
takes thousands (MEASURED.md).

Debian's `postfix` package ships both programs. When they are missing, `ensure_tools()`
installs the package without ever starting the Postfix daemon: a policy-rc.d that denies
every service start is in place for the install (the one already there if it does that),
debconf is told "No configuration" (no main.cf, nothing listening), and the install runs
non-interactively. `python -m bench.smtp_tools` (`make bench-setup`) does only that.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SBIN = Path("/usr/sbin")
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
DENY_STARTS = (
    "#!/bin/sh\n# bench/smtp_tools.py: no service may start during this install\nexit 101\n"
)
DEBCONF = "postfix postfix/main_mailer_type select No configuration\n"
_COUNTER = re.compile(rb"mesg=(\d+)")
OVERHEAD_PROBE = 1000  # smtp-source -l for measuring its own header bytes
SINK_USER = "nobody"  # smtp-sink refuses to run as root without -u


class ToolError(RuntimeError):
    """smtp-sink / smtp-source missing and not installable, or one of them failed."""


def find_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidate = SBIN / name
    return str(candidate) if candidate.exists() else None


def ensure_tools() -> tuple[str, str]:
    """Paths of (smtp-source, smtp-sink), installing Debian's `postfix` if needed."""
    source, sink = find_tool("smtp-source"), find_tool("smtp-sink")
    if source and sink:
        return source, sink
    install_postfix()
    source, sink = find_tool("smtp-source"), find_tool("smtp-sink")
    if not (source and sink):
        raise ToolError("postfix is installed but smtp-source/smtp-sink are still missing")
    return source, sink


def install_postfix() -> None:
    """apt-get install postfix with service starts denied; says what it does on stderr."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise ToolError(
            "smtp-source/smtp-sink are missing: install Debian's postfix package without "
            "starting it, e.g. as root: DEBIAN_FRONTEND=noninteractive apt-get install -y "
            "--no-install-recommends postfix (with a policy-rc.d that exits 101)"
        )
    say(
        "smtp-source/smtp-sink missing: installing Debian's postfix package (its daemon "
        "is NOT started: policy-rc.d denies service starts, debconf 'No configuration')"
    )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with _service_starts_denied():
        if shutil.which("debconf-set-selections"):
            subprocess.run(["debconf-set-selections"], input=DEBCONF.encode(), check=True)
        argv = ["apt-get", "install", "-y", "--no-install-recommends", "postfix"]
        if subprocess.run(argv, env=env, check=False).returncode != 0:
            say("apt-get install failed; running apt-get update and trying once more")
            subprocess.run(["apt-get", "update"], env=env, check=True)
            subprocess.run(argv, env=env, check=True)
    say("postfix installed (smtp-source, smtp-sink); no Postfix daemon was started")


@contextlib.contextmanager
def _service_starts_denied() -> Iterator[None]:
    """A policy-rc.d exiting 101 for the duration; an existing one that denies is kept."""
    previous = POLICY_RC_D.read_text() if POLICY_RC_D.exists() else None
    if previous is not None and re.search(r"^\s*exit\s+101\s*$", previous, re.M):
        yield
        return
    POLICY_RC_D.write_text(DENY_STARTS)
    POLICY_RC_D.chmod(0o755)
    try:
        yield
    finally:
        if previous is None:
            POLICY_RC_D.unlink()
        else:
            POLICY_RC_D.write_text(previous)


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- the sink -------------------------------------------------------------------------------


class SmtpSink:
    """`smtp-sink -c` on 127.0.0.1:<port>; `accepted` follows its running message counter.

    With `dump=True` every message is also written to its own file (`-d`), so a bench can
    read each one's recipient, size and arrival time (the file's mtime). Dumping costs
    disk writes: the yardstick's sink never dumps.
    """

    def __init__(self, port: int, *, dump: bool = False, backlog: int = 1024) -> None:
        self.port = port
        self.dump_dir: Path | None = None
        self._dump = dump
        self._backlog = backlog
        self._process: subprocess.Popen[bytes] | None = None
        self._accepted = 0
        self._reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?tls=none"

    @property
    def accepted(self) -> int:
        return self._accepted

    def start(self) -> SmtpSink:
        _, sink = ensure_tools()
        argv = [sink, "-c"]
        if os.geteuid() == 0:
            argv += ["-u", SINK_USER]
        if self._dump:
            # Outside any private temp dir: the sink writes as SINK_USER when started as root.
            self.dump_dir = Path(tempfile.mkdtemp(prefix="bench-sink-"))
            if os.geteuid() == 0:
                os.chown(self.dump_dir, pwd.getpwnam(SINK_USER).pw_uid, -1)
            argv += ["-d", f"{self.dump_dir}/m."]
        argv += [f"127.0.0.1:{self.port}", str(self._backlog)]
        self._process = spawn_piped(argv)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        wait_for_port(self.port, self._process)
        return self

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        tail = b""
        while chunk := self._process.stdout.read1(65536):  # type: ignore[attr-defined]
            tail = (tail + chunk)[-256:]
            counts = _COUNTER.findall(tail)
            if counts:
                self._accepted = int(counts[-1])

    def wait_for(self, count: int, timeout: float, poll: float = 0.05) -> bool:
        """Until `accepted >= count` (True) or `timeout` seconds passed (False)."""
        deadline = time.monotonic() + timeout
        while self._accepted < count:
            if self._process is not None and self._process.poll() is not None:
                raise ToolError(f"smtp-sink exited with {self._process.returncode}")
            if time.monotonic() > deadline:
                return False
            time.sleep(poll)
        return True

    def dumps(self) -> list[Path]:
        if self.dump_dir is None:
            return []
        return [Path(e.path) for e in os.scandir(self.dump_dir) if e.name.startswith("m.")]

    def stop(self) -> None:
        if self._process is not None:
            from connector.local.processes import terminate

            terminate(self._process, 5.0)
            self._process = None
        if self._reader is not None:
            self._reader.join(2.0)
        if self.dump_dir is not None:
            shutil.rmtree(self.dump_dir, ignore_errors=True)
            self.dump_dir = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def spawn_piped(argv: list[str]) -> subprocess.Popen[bytes]:
    """A child that dies with us, its stdout piped to us (the sink's counter)."""
    import functools

    from connector.local.processes import die_with_parent

    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=functools.partial(die_with_parent, os.getpid()),
    )


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ToolError(f"{process.args!r} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise ToolError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f}s")


@dataclass(frozen=True)
class DumpedMessage:
    """One message as smtp-sink dumped it: recipients, bytes it took on the wire, and
    when the sink finished writing it (mtime: the kernel's coarse clock, a few ms)."""

    recipients: tuple[str, ...]
    wire_bytes: int
    accepted_at: float


_RCPT = re.compile(r"^X-Rcpt-Args:\s*(?:TO:)?<([^>]*)>", re.I | re.M)


def read_dump(path: Path) -> DumpedMessage:
    """Parse a `-d` dump: smtp-sink's own headers end with its three-line Received
    header; the message follows, then one empty line. On the wire each line ends in CRLF
    and a leading '.' is doubled."""
    accepted_at = path.stat().st_mtime
    text = path.read_bytes()
    lines = text.split(b"\n")
    start = 0
    for i, line in enumerate(lines):
        if line.startswith(b"Received: from ") and b"(smtp-sink)" in lines[i + 1]:
            start = i + 3
            break
    body = lines[start:]
    while body and body[-1] == b"":  # the trailing newline and smtp-sink's empty line
        body.pop()
    wire = sum(len(line) + 2 + (1 if line.startswith(b".") else 0) for line in body)
    head = text[: text.find(b"Received: from ")].decode(errors="replace")
    return DumpedMessage(tuple(_RCPT.findall(head)), wire, accepted_at)


def wire_size(paths: list[Path]) -> int:
    """The median wire size of dumped messages."""
    if not paths:
        raise ToolError("no dumped message to measure")
    return int(statistics.median(read_dump(p).wire_bytes for p in paths))


def source_length(dump_sink: SmtpSink, dumps: list[Path]) -> tuple[int, int, int]:
    """(median wire bytes of `dumps`, smtp-source's own header bytes, the `-l` giving
    that wire size): smtp-source's overhead is measured through the same dumping sink.
    Removes every dump, `dumps` included."""
    wire = wire_size(dumps)
    for path in dump_sink.dumps():
        path.unlink()
    smtp_source(dump_sink, messages=3, size=OVERHEAD_PROBE, sessions=1)
    overhead = wire_size(dump_sink.dumps()) - OVERHEAD_PROBE
    for path in dump_sink.dumps():
        path.unlink()
    return wire, overhead, wire - overhead


# --- the yardstick ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceRun:
    messages: int
    elapsed: float

    @property
    def rate(self) -> float:
        return self.messages / self.elapsed if self.elapsed > 0 else 0.0


def smtp_source(
    sink: SmtpSink, *, messages: int, size: int, sessions: int, timeout: float = 300.0
) -> SourceRun:
    """`smtp-source -d -s <sessions> -l <size> -m <messages>` into `sink`, timed by wall
    clock from start until the sink counted every message (not the program's own exit)."""
    source, _ = ensure_tools()
    argv = [
        source,
        "-d",
        "-s",
        str(sessions),
        "-l",
        str(size),
        "-m",
        str(messages),
        "-f",
        "bench@example.com",
        "-t",
        "sink@example.com",
        f"127.0.0.1:{sink.port}",
    ]
    before = sink.accepted
    started = time.perf_counter()
    completed = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    if completed.returncode != 0:
        raise ToolError(f"smtp-source exited {completed.returncode}: {completed.stderr[:300]!r}")
    if not sink.wait_for(before + messages, timeout=10.0, poll=0.002):
        raise ToolError(f"the sink counted {sink.accepted - before} of {messages} messages")
    return SourceRun(sink.accepted - before, time.perf_counter() - started)


if __name__ == "__main__":
    found = ensure_tools()
    print(f"smtp-source: {found[0]}\nsmtp-sink: {found[1]}")
