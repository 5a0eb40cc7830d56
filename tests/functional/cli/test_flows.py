"""`connector flows simulate|pause|resume|archive|status` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_simulate_post_purchase_prints_six_emails_as_json(env: dict[str, str],
                                                           tmp_path: Path) -> None:
    contact = write(tmp_path / "c.json", {"email": "a@example.com", "timezone": "UTC"})
    events = write(tmp_path / "e.json", [
        {"event": "order.completed", "at": "2026-03-02T10:00:00Z",
         "properties": {"order_id": "1", "items": []}},
        {"event": "order.shipped", "at": "2026-03-03T12:00:00Z", "properties": {"order_id": "1"}},
        {"event": "order.delivered", "at": "2026-03-05T12:00:00Z",
         "properties": {"order_id": "1"}},
    ])
    svg = tmp_path / "timeline.svg"
    result = CliRunner().invoke(main, [
        "flows", "simulate", "post-purchase", "--contact", str(contact), "--events", str(events),
        "--days", "400", "--json", "--svg", str(svg)], env=env)
    assert result.exit_code == 0, result.output
    timeline = json.loads(result.output)
    emails = [(e["at"][:10], e["template"]) for e in timeline if e["action"] == "send"]
    assert emails == [
        ("2026-03-02", "order-thanks"), ("2026-03-03", "order-survey"),
        ("2026-03-03", "order-shipped"), ("2026-03-12", "review-request"),
        ("2026-03-26", "referral-offer"), ("2027-03-02", "purchase-anniversary"),
    ]
    assert set(timeline[0]) >= {"at", "step", "action"}
    assert svg.read_text().startswith("<svg") and "purchase-anniversary" in svg.read_text()


@pytest.mark.parametrize(
    ("contact", "events", "message"),
    [
        ({"name": "x"}, [], "--contact must be a JSON object with an 'email'"),
        ({"email": "a@example.com"}, {"event": "x"}, "--events must be a JSON list"),
        ({"email": "a@example.com"}, [{"event": "x", "at": "yesterday"}],
         "--events[0].at: not an ISO 8601 time"),
        ({"email": "a@example.com"}, [{"event": "x", "at": "2026-01-01T00:00:00"}],
         "--events[0].at: give a time zone"),
    ],
)
def test_simulate_rejects_bad_input_clearly(env: dict[str, str], tmp_path: Path,
                                            contact: object, events: object,
                                            message: str) -> None:
    result = CliRunner().invoke(main, [
        "flows", "simulate", "welcome", "--contact", str(write(tmp_path / "c.json", contact)),
        "--events", str(write(tmp_path / "e.json", events)), "--days", "3"], env=env)
    assert result.exit_code == 1
    assert message in result.output


def test_simulate_unknown_flow(env: dict[str, str], tmp_path: Path) -> None:
    contact = write(tmp_path / "c.json", {"email": "a@example.com"})
    result = CliRunner().invoke(main, ["flows", "simulate", "nope", "--contact", str(contact),
                                       "--days", "3"], env=env)
    assert result.exit_code == 1
    assert "no flow 'nope'" in result.output


def connect(runner: CliRunner, env: dict[str, str], portal: str) -> None:
    result = runner.invoke(main, ["accounts", "connect", "hubspot", "--portal-id", portal,
                                  "--access-token", "pat-x"], env=env)
    assert result.exit_code == 0, result.output


def flows(runner: CliRunner, env: dict[str, str], *args: str) -> str:
    return runner.invoke(main, ["flows", *args], env=env).output


def status_of(output: str, key: str) -> str:
    line = next(line for line in output.splitlines() if f" {key} " in f" {line} ")
    return next(s for s in ("active", "paused", "archived") if s in line)


def test_pause_resume_archive_and_status_per_account(env: dict[str, str]) -> None:
    runner = CliRunner()
    connect(runner, env, "1")
    assert "welcome: paused" in flows(runner, env, "pause", "welcome")  # the only account
    connect(runner, env, "2")
    ambiguous = runner.invoke(main, ["flows", "pause", "welcome"], env=env)
    assert ambiguous.exit_code == 2 and "give --account (accounts: 1, 2)" in ambiguous.output
    assert status_of(flows(runner, env, "status", "--account", "1"), "welcome") == "paused"
    assert status_of(flows(runner, env, "status", "--account", "2"), "welcome") == "active"
    resumed = flows(runner, env, "resume", "welcome", "--account", "1")
    assert "welcome: active (0 held enrollment(s) resumed)" in resumed
    assert "welcome: archived" in flows(runner, env, "archive", "welcome", "--account", "2")
    assert status_of(flows(runner, env, "status", "--account", "1"), "welcome") == "active"
    bad = runner.invoke(main, ["flows", "pause", "nope", "--account", "1"], env=env)
    assert bad.exit_code == 1 and "no flow 'nope'" in bad.output
    unknown = runner.invoke(main, ["flows", "status", "--account", "9"], env=env)
    assert unknown.exit_code == 1 and "account 9 does not exist" in unknown.output


def test_read_only_commands_do_not_migrate(env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    for args in (["flows", "status"], ["accounts", "list"]):
        result = runner.invoke(main, args, env=env)
        assert result.exit_code == 1, result.output
        assert "the database was never migrated: run `connector db upgrade`" in result.output
    assert not (tmp_path / "cli.sqlite3").exists()
