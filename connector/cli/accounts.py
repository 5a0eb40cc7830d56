"""`connector accounts`: connect CRM accounts with a token and list them."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from connector.cli.context import CliContext, pass_cli

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

    database = cli.database(migrate=True)
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
                now=SystemClock().now(),
            )
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    verb = "connected" if created else "updated tokens of"
    click.echo(f"{verb} account {view.id} ({provider} {external_id})")
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
            click.echo(
                json.dumps(
                    {
                        "id": v.id,
                        "provider": v.provider,
                        "crm_id": v.external_id,
                        "name": v.name,
                        "api_key": v.api_key,
                    }
                )
            )
        return
    table = Table("id", "provider", "CRM id", "name", "API key")
    for v in views:
        table.add_row(str(v.id), v.provider, v.external_id, v.name, v.api_key)
    console.print(table if views else "no accounts yet: `connector accounts connect ...`")
