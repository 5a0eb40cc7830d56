"""`connector campaigns send / pause / resume / cancel / status / list` through the real
CLI on a database of the test's own and the test Redis; the jobs the commands queue run in
this process (as a worker would), and `send --wait` runs as a real process beside them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner, Result

from connector import runtime as runtime_module
from connector.cli import main
from connector.local.inprocess import drain
from connector.models import Contact, ListMembership
from connector.runtime import Runtime, build_runtime
from connector.settings import load_settings
from tests.support.paths import ROOT

NEWSLETTER = "name: Newsletter\ntemplate: seasonal-sale\naudience: {list: newsletter}\n"
READERS = 5


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


@pytest.fixture
def send_env(env: dict[str, str], redis_url: str, redis_conn: redis.Redis, tmp_path: Path
             ) -> dict[str, str]:
    return env | {"REDIS_URL": redis_url, "MAIL_URL": f"outbox://{tmp_path / 'outbox'}",
                  "PUBLIC_BASE_URL": "https://drip.example.com"}


@pytest.fixture
def account(send_env: dict[str, str], tmp_path: Path) -> int:
    """An account whose live workspace has the newsletter campaign, and its readers."""
    connected = run(send_env, "accounts", "connect", "hubspot", "--portal-id", "7",
                    "--access-token", "pat-x")
    assert connected.exit_code == 0, connected.output
    workspace = tmp_path / "ws"
    for part in ("flows", "segments", "templates"):
        shutil.copytree(ROOT / part, workspace / part)
    (workspace / "campaigns").mkdir()
    (workspace / "campaigns" / "newsletter.yaml").write_text(NEWSLETTER)
    deployed = run(send_env, "deploy", str(workspace), "--account", "1")
    assert deployed.exit_code == 0, deployed.output
    with worker(send_env) as rt, rt.db.session() as session:
        now = datetime.now(UTC)
        for n in range(READERS):
            contact = Contact(account_id=1, email=f"reader{n}@example.com", properties={},
                              created_at=now, updated_at=now)
            session.add(contact)
            session.flush()
            session.add(ListMembership(account_id=1, contact_id=contact.id,
                                       list_key="newsletter", added_at=now))
    return 1


@contextmanager
def worker(env: dict[str, str]) -> Iterator[Runtime]:
    """A runtime on the CLI's settings, installed as the process's current one (the jobs
    look it up), for the test's part of a worker."""
    rt = build_runtime(load_settings(**env))
    runtime_module.install(rt)
    try:
        yield rt
    finally:
        runtime_module.install(None)
        rt.close()


def run_jobs(env: dict[str, str]) -> None:
    with worker(env) as rt:
        drain(rt.queues)


def status(env: dict[str, str], key: str = "newsletter") -> dict[str, object]:
    result = run(env, "campaigns", "status", key, "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.output)
    return data


def test_send_then_status_list_and_the_state_commands(send_env: dict[str, str],
                                                      account: int) -> None:
    listed = run(send_env, "campaigns", "list")
    assert listed.exit_code == 0, listed.output
    assert "newsletter" in listed.output and "draft" in listed.output

    sent = run(send_env, "campaigns", "send", "newsletter")
    assert sent.exit_code == 0, sent.output
    assert sent.output == f"newsletter: sending to {READERS} contact(s)\n"
    paused = run(send_env, "campaigns", "pause", "newsletter", "--account", "1")
    assert paused.output == "newsletter: paused\n"
    run_jobs(send_env)
    assert status(send_env)["sent"] == 0
    assert run(send_env, "campaigns", "resume", "newsletter").output == "newsletter: sending\n"
    run_jobs(send_env)

    data = status(send_env)
    assert {k: data[k] for k in ("key", "state", "audience", "sent", "skipped", "failed")} == {
        "key": "newsletter", "state": "sent", "audience": READERS, "sent": READERS,
        "skipped": {}, "failed": 0}
    shown = run(send_env, "campaigns", "status", "newsletter")
    assert "newsletter (Newsletter): sent" in shown.output
    assert f"{READERS}/{READERS}" in shown.output
    assert f"sent {READERS} of {READERS}, skipped 0, failed 0" in shown.output
    everyone = json.loads(run(send_env, "campaigns", "status", "--json").output)
    assert [c["key"] for c in everyone] == ["newsletter"]

    again = run(send_env, "campaigns", "send", "newsletter")
    assert again.exit_code == 1
    assert "campaign newsletter was started already (it is sent)" in again.output
    cancelled = run(send_env, "campaigns", "cancel", "newsletter")
    assert cancelled.exit_code == 1
    assert ("campaign newsletter is sent: only a campaign scheduled or sending or paused "
            "can be cancelled") in cancelled.output


def test_send_at_schedules_it(send_env: dict[str, str], account: int) -> None:
    result = run(send_env, "campaigns", "send", "newsletter", "--at", "2099-05-01T09:00+02:00")
    assert result.exit_code == 0, result.output
    assert result.output == "newsletter: scheduled for 2099-05-01 07:00 UTC\n"
    assert status(send_env)["state"] == "scheduled"
    assert run(send_env, "campaigns", "cancel", "newsletter").output == "newsletter: cancelled\n"


@pytest.mark.parametrize(("args", "expected"), [
    (["send", "nope"], "account 1's live workspace has no campaign 'nope' (campaigns: "
                       "newsletter)"),
    (["send", "newsletter", "--at", "soon"],
     "Invalid value for --at: expected an ISO time such as 2026-05-01T09:00+02:00, got 'soon'"),
    (["send", "newsletter", "--at", "2099-05-01T09:00"],
     "Invalid value for --at: '2099-05-01T09:00' has no UTC offset"),
    (["send", "newsletter", "--at", "2020-05-01T09:00Z"],
     "Invalid value for --at: 2020-05-01T09:00Z has passed (leave --at out to send now)"),
    (["pause", "newsletter"], "campaign newsletter has not been started in account 1"),
    (["status", "nope"], "account 1 has no campaign 'nope', started or in its live workspace"),
    (["status", "newsletter", "--account", "9"], "no account 9"),
    (["send", "newsletter", "--account", "9"], "no account 9"),
])
def test_wrong_arguments_say_what_is_wrong(send_env: dict[str, str], account: int,
                                           args: list[str], expected: str) -> None:
    result = run(send_env, "campaigns", *args)
    assert result.exit_code != 0
    assert expected in " ".join(result.output.split()), result.output


def test_send_needs_redis(env: dict[str, str], account: int) -> None:
    result = run({k: v for k, v in env.items() if k != "REDIS_URL"}, "campaigns", "send",
                 "newsletter")
    assert result.exit_code == 1
    assert "REDIS_URL is not set (the send is queued for the workers)" in result.output


def test_send_wait_shows_progress_until_sent(send_env: dict[str, str], account: int) -> None:
    with waiting_send(send_env) as process:
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            run_jobs(send_env)  # the worker's part, as the command waits
            time.sleep(0.1)
    output = process.stdout.read() if process.stdout else ""
    assert process.returncode == 0, output
    assert f"newsletter: sending to {READERS} contact(s)" in output
    assert f"{READERS}/{READERS}" in output  # the bar
    assert output.rstrip().endswith(
        f"newsletter: sent: sent {READERS} of {READERS}, skipped 0, failed 0")


@contextmanager
def waiting_send(env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """`connector campaigns send newsletter --wait` as a process of its own."""
    process = subprocess.Popen(
        [sys.executable, "-m", "connector", "campaigns", "send", "newsletter", "--wait"],
        env=os.environ | env | {"COLUMNS": "120"}, cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


