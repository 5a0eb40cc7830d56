"""`connector accounts ...` and `connector flows validate` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from connector.cli import main
from connector.crypto import Vault
from connector.db import Database
from connector.models import Account
from tests.support.paths import ROOT


@pytest.fixture
def env(tmp_path: Path, database_url: str, db: Database) -> dict[str, str]:
    return {
        "APP_ENV": "development",
        "VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": database_url,
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "SECRET_KEY": "s",
    }


def run(env: dict[str, str], *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_connect_stores_tokens_encrypted_and_list_shows_the_api_key(
    env: dict[str, str], db: Database
) -> None:
    result = run(
        env,
        "accounts",
        "connect",
        "hubspot",
        "--portal-id",
        "123",
        "--access-token",
        "pat-na1-secret",
        "--refresh-token",
        "refresh-secret",
    )
    assert result.exit_code == 0, result.output
    api_key = result.output.strip().rsplit(" ", 1)[1]
    assert api_key.startswith("cdk_")
    with db.session() as session:
        account = session.query(Account).one()
    assert b"pat-na1-secret" not in account.access_token_encrypted
    vault = Vault([env["ENCRYPTION_KEYS"]])
    assert vault.decrypt(account.access_token_encrypted) == "pat-na1-secret"
    assert vault.decrypt(account.refresh_token_encrypted or b"") == "refresh-secret"

    listed = json.loads(run(env, "accounts", "list", "--json").output)
    assert (listed["provider"], listed["crm_id"], listed["api_key"]) == ("hubspot", "123", api_key)

    # Reconnecting updates the tokens and keeps the API key.
    again = run(
        env, "accounts", "connect", "hubspot", "--portal-id", "123", "--access-token", "pat-na1-new"
    )
    assert again.output.strip().endswith(api_key)
    assert "updated tokens" in again.output


def test_keys_rotate_newest_first(env: dict[str, str], db: Database) -> None:
    run(env, "accounts", "connect", "hubspot", "--portal-id", "7", "--access-token", "tok")
    rotated = {
        **env,
        "ENCRYPTION_KEYS": f"{Fernet.generate_key().decode()},{env['ENCRYPTION_KEYS']}",
    }
    assert run(rotated, "accounts", "list").exit_code == 0  # old tokens still decrypt


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["hubspot", "--portal-id", "abc", "--access-token", "t"],
         "--portal-id: a HubSpot portal id must be digits"),
        (["hubspot", "--portal-id", "1", "--access-token", "a b"], "--access-token"),
        (
            [
                "salesforce",
                "--org-id",
                "001000000000001",
                "--instance-url",
                "https://x.com",
                "--access-token",
                "t",
            ],
            "--org-id",
        ),
        (
            [
                "salesforce",
                "--org-id",
                "00D000000000001",
                "--instance-url",
                "ftp://x",
                "--access-token",
                "t",
            ],
            "--instance-url",
        ),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(
    env: dict[str, str], db: Database, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(main, ["accounts", "connect", *args], env=env)
    assert result.exit_code == 1
    assert message in result.output
    with db.session() as session:
        assert session.query(Account).count() == 0


def test_salesforce_connect(env: dict[str, str]) -> None:
    result = run(
        env,
        "accounts",
        "connect",
        "salesforce",
        "--org-id",
        "00D5g000004ABCDEAA",
        "--instance-url",
        "https://acme.my.salesforce.com",
        "--access-token",
        "00D!x",
    )
    assert result.exit_code == 0, result.output
    # What the admin puts in the org: the outbound URL with the account's token.
    from connector.services.crm_secrets import inbound_secret

    listed = json.loads(run({**env, "PUBLIC_BASE_URL": "https://drip.example.com"},
                            "accounts", "list", "--json").output)
    secret = inbound_secret(env["SECRET_KEY"], listed["id"])
    assert listed["outbound_message_url"] == (
        f"https://drip.example.com/webhooks/salesforce/outbound?token={secret}")
    assert listed["callout_secret"] == secret


def test_production_without_secrets_fails_naming_the_variable(env: dict[str, str]) -> None:
    env = {**env, "APP_ENV": "production"}
    env.pop("SECRET_KEY")
    result = CliRunner().invoke(main, ["accounts", "list"], env={**env, "SECRET_KEY": None})  # type: ignore[dict-item]
    assert result.exit_code == 1
    assert "SECRET_KEY is required" in result.output


def test_flows_validate_passes_on_the_shipped_flows() -> None:
    result = CliRunner().invoke(main, ["flows", "validate", str(ROOT / "flows")])
    assert result.exit_code == 0, result.output
    assert "ok  welcome" in result.output


def test_flows_validate_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad\ntrigger: {type: contact.created}\nsteps:\n  - sned: welcome\n")
    result = CliRunner().invoke(main, ["flows", "validate", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{bad}:4:" in result.output


def test_flows_validate_reports_lints_with_lines(tmp_path: Path) -> None:
    flow = tmp_path / "lints.yaml"
    flow.write_text(
        "name: Lints\ntrigger: {type: contact.created}\nsteps:\n"
        "  - {send: no-such-template}\n"
        "  - {exit: {}}\n"
        "  - {send: welcome}\n"
    )
    result = CliRunner().invoke(main, ["flows", "validate", str(flow)])
    assert result.exit_code == 1
    assert f"{flow}:4: error: step 'step-1': no template 'no-such-template'" in result.output
    assert f"{flow}:6: warning: step 'step-3' is unreachable" in result.output


def test_disconnect_drops_the_tokens_and_list_shows_the_status(
    env: dict[str, str], db: Database
) -> None:
    run(env, "accounts", "connect", "hubspot", "--portal-id", "321", "--access-token", "tok",
        "--refresh-token", "ref")
    with db.session() as session:
        account_id = session.query(Account).one().id
    assert json.loads(run(env, "accounts", "list", "--json").output)["status"] == "connected"

    result = run(env, "accounts", "disconnect", str(account_id), "--reason", "left us")
    assert result.exit_code == 0, result.output
    assert f"disconnected account {account_id}" in result.output
    with db.session() as session:
        account = session.query(Account).one()
    assert (account.status, account.disconnect_reason) == ("disconnected", "left us")
    assert (account.access_token_encrypted, account.refresh_token_encrypted) == (None, None)
    assert json.loads(run(env, "accounts", "list", "--json").output)["status"] == "disconnected"

    unknown = CliRunner().invoke(main, ["accounts", "disconnect", "999"], env=env)
    assert unknown.exit_code == 1
    assert "no account 999" in unknown.output


def test_writes_shows_an_accounts_crm_writes_and_keeps_its_failures_visible(
    env: dict[str, str], db: Database
) -> None:
    from datetime import UTC, datetime

    from connector.models import Contact
    from connector.services.writeback import queue_writeback

    run(env, "accounts", "connect", "hubspot", "--portal-id", "321", "--access-token", "t")
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with db.session() as session:
        account = session.query(Account).one()
        contact = Contact(account_id=account.id, email="a@example.com", crm_id="9",
                          created_at=now, updated_at=now)
        session.add(contact)
        session.flush()
        for n in range(3):
            queue_writeback(session, account_id=account.id, contact_id=contact.id,
                            kind="email_sent", dedup_key=f"email_sent:m{n}",
                            payload={"message": f"m{n}"}, now=now)
    with db.session() as session:
        from connector.models import CrmWriteback

        failed = session.query(CrmWriteback).order_by(CrmWriteback.id).first()
        assert failed is not None
        failed.status, failed.attempts = "failed", 1
        failed.last_error = "VALIDATION_ERROR: no contact 9 in the portal"

    report = json.loads(run(env, "accounts", "writes", str(account.id), "--json").output)
    assert report["counts"] == [{"kind": "email_sent", "status": "failed", "writes": 1},
                                {"kind": "email_sent", "status": "pending", "writes": 2}]
    assert [f["error"] for f in report["failures"]] == [
        "VALIDATION_ERROR: no contact 9 in the portal"]
    text = run(env, "accounts", "writes", str(account.id)).output
    assert "after 1 attempt(s): VALIDATION_ERROR" in text
    missing = CliRunner().invoke(main, ["accounts", "writes", "999"], env=env)
    assert missing.exit_code == 1 and "no account 999" in missing.output
