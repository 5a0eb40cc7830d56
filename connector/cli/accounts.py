"""`connector accounts`: connect CRM accounts with a token (a new one gets the default
workspace), list and show them, set their sending identity, policy and timezone,
disconnect them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from connector.cli.context import CliContext, pass_cli

if TYPE_CHECKING:
    from connector.services.accounts import AccountView

console = Console()


@click.group()
def accounts() -> None:
    """Connected CRM accounts."""


@accounts.group()
def connect() -> None:
    """Connect an account with a token (private apps, CI, tests): no OAuth dance."""


@connect.command("hubspot")
@click.option("--portal-id", required=True, help="The HubSpot account (hub) id.")
@click.option("--access-token", required=True, help="Private app or OAuth access token.")
@click.option("--refresh-token", default=None, help="OAuth refresh token.")
@click.option("--name", default=None)
@pass_cli
def connect_hubspot(
    cli: CliContext, portal_id: str, access_token: str, refresh_token: str | None, name: str | None
) -> None:
    _connect(cli, "hubspot", portal_id, access_token, refresh_token, None, name)


@connect.command("salesforce")
@click.option("--org-id", required=True, help="The 15 or 18 character organization id.")
@click.option("--instance-url", required=True, help="e.g. https://mydomain.my.salesforce.com")
@click.option("--access-token", required=True)
@click.option("--refresh-token", default=None)
@click.option("--name", default=None)
@pass_cli
def connect_salesforce(
    cli: CliContext,
    org_id: str,
    instance_url: str,
    access_token: str,
    refresh_token: str | None,
    name: str | None,
) -> None:
    _connect(cli, "salesforce", org_id, access_token, refresh_token, instance_url, name)


def _connect(
    cli: CliContext,
    provider: str,
    external_id: str,
    access_token: str,
    refresh_token: str | None,
    instance_url: str | None,
    name: str | None,
) -> None:
    from connector.clock import SystemClock
    from connector.crypto import Vault
    from connector.services.accounts import AccountError, connect_account
    from connector.workspaces import WorkspaceError, deploy_default

    database = cli.database(migrate=True)
    now = SystemClock().now()
    try:
        with database.session() as session:
            view, created = connect_account(
                session,
                Vault(cli.settings.fernet_keys),
                provider=provider,
                external_id=external_id,
                access_token=access_token,
                refresh_token=refresh_token,
                instance_url=instance_url,
                name=name,
                now=now,
            )
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    verb = "connected" if created else "updated tokens of"
    click.echo(f"{verb} account {view.id} ({provider} {external_id})")
    if view.workspace_version is None:
        try:
            report = deploy_default(database, cli.settings, view.id, now)
        except WorkspaceError as exc:
            raise click.ClickException(
                f"the default workspace is invalid, nothing deployed:\n{exc}"
            ) from exc
        click.echo(f"deployed the default workspace as version {report.version} "
                   f"({len(report.flows.added)} flow(s))")
    click.echo(f"API key for /v1/events: {view.api_key}")


@accounts.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per account.")
@pass_cli
def list_command(cli: CliContext, as_json: bool) -> None:
    """Each account's id, CRM and API key for /v1/events."""
    from connector.crypto import Vault
    from connector.services.accounts import list_accounts

    with cli.database().session() as session:
        views = list_accounts(session, Vault(cli.settings.fernet_keys))
    if as_json:
        for v in views:
            click.echo(json.dumps(_as_json(cli, v)))
        return
    table = Table("id", "provider", "CRM id", "name", "status", "workspace", "sender", "API key")
    for v in views:
        workspace = "-" if v.workspace_version is None else f"v{v.workspace_version}"
        table.add_row(str(v.id), v.provider, v.external_id, v.name, v.status, workspace,
                      v.mail_from or "(default)", v.api_key)
    console.print(table if views else "no accounts yet: `connector accounts connect ...`")


def _as_json(cli: CliContext, v: AccountView) -> dict[str, Any]:
    """An account as `list --json` and `show --json` print it (unset settings: null)."""
    return {
        "id": v.id,
        "provider": v.provider,
        "crm_id": v.external_id,
        "name": v.name,
        "api_key": v.api_key,
        "status": v.status,
        "workspace_version": v.workspace_version,
        "mail_from": v.mail_from,
        "reply_to": v.reply_to,
        "company_name": v.company_name,
        "company_address": v.company_address,
        "frequency_cap": v.frequency_cap,
        "timezone": v.timezone,
        **_inbound(cli, v),
    }


def _inbound(cli: CliContext, view: AccountView) -> dict[str, str]:
    """What a Salesforce admin puts in the org: the outbound URL with its token, and the
    callouts' HMAC secret (docs/salesforce-events.md)."""
    if view.provider != "salesforce":
        return {}
    from connector.services.crm_secrets import inbound_secret

    secret = inbound_secret(cli.settings.secret_key or "", view.id)
    return {"outbound_message_url": f"{cli.settings.base_url}/webhooks/salesforce/outbound"
                                    f"?token={secret}",
            "callout_secret": secret}


@accounts.command("disconnect")
@click.argument("account_id", type=int)
@click.option("--reason", default="disconnected from the command line", show_default=True)
@pass_cli
def disconnect_command(cli: CliContext, account_id: int, reason: str) -> None:
    """Stop using an account's CRM: its tokens are dropped and nothing runs for it until
    it is connected (or the app installed) again."""
    from connector.clock import SystemClock
    from connector.crypto import Vault
    from connector.services.credentials import DatabaseCredentialStore

    store = DatabaseCredentialStore(cli.database(migrate=True), Vault(cli.settings.fernet_keys),
                                    SystemClock())
    try:
        store.disconnect(account_id, reason)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"disconnected account {account_id}: its tokens are dropped")


@accounts.command("writes")
@click.argument("account_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@pass_cli
def writes_command(cli: CliContext, account_id: int, as_json: bool) -> None:
    """An account's CRM write-backs: counts by kind and status, and the newest failures
    with the CRM's reason (permanent failures are kept, never dropped)."""
    from connector.models import Account
    from connector.services.writeback import writeback_report

    with cli.database().session() as session:
        if session.get(Account, account_id) is None:
            raise click.ClickException(f"no account {account_id}")
        report = writeback_report(session, account_id)
        failures = [
            {"id": row.id, "kind": row.kind, "status": row.status, "attempts": row.attempts,
             "error": row.last_error, "next_attempt_at": row.next_attempt_at.isoformat()}
            for row in report.failures
        ]
    counts = [{"kind": kind, "status": status, "writes": n}
              for (kind, status), n in sorted(report.counts.items())]
    if as_json:
        click.echo(json.dumps({"account": account_id, "counts": counts, "failures": failures}))
        return
    if not counts:
        click.echo(f"account {account_id}: no CRM writes yet")
    for row in counts:
        click.echo(f"{row['kind']:<16} {row['status']:<8} {row['writes']}")
    for failure in failures:
        click.echo(f"#{failure['id']} {failure['kind']} {failure['status']} after "
                   f"{failure['attempts']} attempt(s): {failure['error']}")


def _timezone(_ctx: click.Context, _param: click.Parameter, value: str | None
              ) -> str | None:
    """--timezone checked before anything opens: an unknown zone is a usage error (exit
    2) naming the close ones; "" stays "" (it clears the account's)."""
    if value is None or not value.strip():
        return value
    from connector.settings import parse_timezone

    try:
        return parse_timezone(value).key
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@accounts.command("set")
@click.argument("account_id", type=int)
@click.option("--from", "mail_from", help="Sender, e.g. 'Acme <hello@acme.example>'.")
@click.option("--reply-to", help="Reply-To address.")
@click.option("--company", "company_name", help="Company name in the footer.")
@click.option("--address", "company_address", help="Postal address in the footer.")
@click.option("--frequency-cap", help="At most N marketing emails per window, e.g. 3/7d.")
@click.option("--timezone", callback=_timezone,
              help="IANA timezone, e.g. Europe/Berlin: a campaign's send_at without an "
                   "offset is read in it.")
@pass_cli
def set_command(
    cli: CliContext,
    account_id: int,
    mail_from: str | None,
    reply_to: str | None,
    company_name: str | None,
    company_address: str | None,
    frequency_cap: str | None,
    timezone: str | None,
) -> None:
    """An account's sending identity, policy and timezone; unset values fall back to the
    deployment's settings, and "" clears one."""
    from connector.crypto import Vault
    from connector.services.accounts import AccountError, set_identity

    values = {
        "mail_from": mail_from,
        "reply_to": reply_to,
        "company_name": company_name,
        "company_address": company_address,
        "frequency_cap": frequency_cap,
        "timezone": timezone,
    }
    if all(value is None for value in values.values()):
        raise click.UsageError("give at least one of --from, --reply-to, --company, "
                               "--address, --frequency-cap, --timezone")
    try:
        with cli.database(migrate=True).session() as session:
            view = set_identity(session, Vault(cli.settings.fernet_keys), account_id, **values)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    _echo_settings(cli, view)


@accounts.command("show")
@click.argument("account_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="One JSON object, as `list --json`.")
@pass_cli
def show_command(cli: CliContext, account_id: int, as_json: bool) -> None:
    """An account's sending identity, policy and timezone, each with the deployment's
    setting it falls back to when unset."""
    from connector.crypto import Vault
    from connector.services.accounts import account_view

    with cli.database().session() as session:
        view = account_view(session, Vault(cli.settings.fernet_keys), account_id)
    if view is None:
        raise click.ClickException(f"no account {account_id}")
    if as_json:
        click.echo(json.dumps(_as_json(cli, view)))
        return
    _echo_settings(cli, view)


def _echo_settings(cli: CliContext, view: AccountView) -> None:
    settings = cli.settings
    click.echo(f"account {view.id}:")
    for label, value, default in (
        ("from", view.mail_from, settings.mail_from),
        ("reply-to", view.reply_to, None),
        ("company", view.company_name, settings.company_name),
        ("address", view.company_address, settings.company_address),
        ("frequency cap", view.frequency_cap, settings.frequency_cap),
        ("timezone", view.timezone, settings.timezone),
    ):
        shown = value if value is not None else f"{default or 'none'} (deployment default)"
        click.echo(f"  {label}: {shown}")
