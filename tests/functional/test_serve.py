"""`connector serve` as real processes: an event posted over HTTP becomes an email accepted
by a real SMTP server within 2 s, and SIGTERM leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.paths import ROOT
from tests.support.smtp import SmtpServer, free_port

pytestmark = pytest.mark.slow


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def serve_env(tmp_path: Path, smtp_server: SmtpServer) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL")
    }
    env.update(
        APP_ENV="development",
        VAR_DIR=str(tmp_path / "var"),
        PORT=str(free_port()),
        MAIL_URL=smtp_server.url,
        FLOWS_DIR=str(ROOT / "flows"),
        TEMPLATES_DIR=str(ROOT / "templates"),
        SCHEDULER_INTERVAL="0.5",
    )
    return env


def connector(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "connector", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_posted_event_becomes_an_email_within_two_seconds_and_sigterm_stops_all(
    serve_env: dict[str, str], smtp_server: SmtpServer
) -> None:
    out = connector(
        serve_env,
        "accounts",
        "connect",
        "hubspot",
        "--portal-id",
        "42",
        "--access-token",
        "pat-na1-test",
    )
    api_key = out.strip().rsplit(" ", 1)[1]
    process = None
    try:
        process = subprocess.Popen([sys.executable, "-m", "connector", "serve"], env=serve_env)
        base = f"http://127.0.0.1:{serve_env['PORT']}"
        _wait_ready(process, base)
        children = descendants(process.pid)
        assert len(children) >= 2  # the embedded Redis and a worker

        body = {
            "contact": {"email": "new@example.com"},
            "event": "order.completed",
            "properties": {"order_id": "9", "total": "1.00", "items": []},
        }
        request = urllib.request.Request(
            f"{base}/v1/events",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"},
        )
        started = time.monotonic()
        assert urllib.request.urlopen(request).status == 202
        assert smtp_server.sink.received.wait(2.0), "no email within 2 s"
        elapsed = time.monotonic() - started
        assert elapsed < 2.0
        assert smtp_server.messages[0]["To"] == "new@example.com"

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        deadline = time.monotonic() + 5
        while any(alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in children if alive(pid)], "orphaned processes"
    finally:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()


def _wait_ready(process: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if urllib.request.urlopen(f"{base}/readyz", timeout=1).status == 200:
                return
        except OSError:
            pass
        assert process.poll() is None, "connector serve exited during start-up"
        assert time.monotonic() < deadline, "connector serve did not become ready"
        time.sleep(0.1)
