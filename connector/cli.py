"""The `connector` command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from connector.settings import Settings, SettingsError, load_settings

console = Console()


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """CRM Drip Connector: drip flows and campaigns inside HubSpot and Salesforce."""


@main.command()
@click.option("--keep", is_flag=True, help="Keep var/demo from a previous run.")
def demo(keep: bool) -> None:
    """Run the whole loop on embedded defaults on a virtual clock and print a summary."""
    from connector.demo import run_demo

    sys.exit(run_demo(_settings(), console, fresh=not keep))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 16))
def serve(host: str, workers: int) -> None:
    """Web + worker + scheduler in one command (embedded Redis unless REDIS_URL is set)."""
    from connector.serve import run_serve

    sys.exit(run_serve(_settings(), host=host, workers=workers))


@main.command()
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
@click.option("--no-ticker", is_flag=True, help="Do not enqueue scheduler ticks.")
def worker(queues: tuple[str, ...], burst: bool, no_ticker: bool) -> None:
    """An RQ worker for QUEUES (default: events send crm scheduler) with the scheduler."""
    from connector.queues import QUEUE_NAMES
    from connector.runtime import build_runtime
    from connector.worker import run_worker

    settings = _settings()
    if not settings.redis_url:
        raise click.ClickException("REDIS_URL is not set (use `connector serve` locally)")
    try:
        run_worker(
            build_runtime(settings), queues or QUEUE_NAMES, ticker=not no_ticker, burst=burst
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


@main.group()
def db() -> None:
    """Database migrations."""


@db.command()
def upgrade() -> None:
    """Apply every migration (the Procfile's release phase)."""
    from connector.migrate import upgrade as run_upgrade

    run_upgrade(_settings().sqlalchemy_url)
    click.echo("database is up to date")


@main.group()
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
def connect_hubspot(
    portal_id: str, access_token: str, refresh_token: str | None, name: str | None
) -> None:
    _connect("hubspot", portal_id, access_token, refresh_token, None, name)


@connect.command("salesforce")
@click.option("--org-id", required=True, help="The 15 or 18 character organization id.")
@click.option("--instance-url", required=True, help="e.g. https://mydomain.my.salesforce.com")
@click.option("--access-token", required=True)
@click.option("--refresh-token", default=None)
@click.option("--name", default=None)
def connect_salesforce(
    org_id: str, instance_url: str, access_token: str, refresh_token: str | None, name: str | None
) -> None:
    _connect("salesforce", org_id, access_token, refresh_token, instance_url, name)


def _connect(
    provider: str,
    external_id: str,
    access_token: str,
    refresh_token: str | None,
    instance_url: str | None,
    name: str | None,
) -> None:
    from connector.clock import SystemClock
    from connector.crypto import Vault
    from connector.db import Database
    from connector.migrate import upgrade as run_upgrade
    from connector.services.accounts import AccountError, connect_account

    settings = _settings()
    run_upgrade(settings.sqlalchemy_url)
    database = Database(settings.sqlalchemy_url)
    try:
        with database.session() as session:
            view, created = connect_account(
                session,
                Vault(settings.fernet_keys),
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
    finally:
        database.dispose()
    verb = "connected" if created else "updated tokens of"
    click.echo(f"{verb} account {view.id} ({provider} {external_id})")
    click.echo(f"API key for /v1/events: {view.api_key}")


@accounts.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per account.")
def list_command(as_json: bool) -> None:
    """Each account's id, CRM and API key for /v1/events."""
    from connector.crypto import Vault
    from connector.db import Database
    from connector.migrate import upgrade as run_upgrade
    from connector.services.accounts import list_accounts

    settings = _settings()
    run_upgrade(settings.sqlalchemy_url)
    database = Database(settings.sqlalchemy_url)
    with database.session() as session:
        views = list_accounts(session, Vault(settings.fernet_keys))
    database.dispose()
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


@main.group()
def flows() -> None:
    """Flows as YAML files."""


@flows.command()
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
def validate(path: Path | None) -> None:
    """Check every flow in PATH (default FLOWS_DIR): errors name file and line."""
    from connector.engine import FlowError, FlowErrors, load_flows, parse_flow

    target = path or _settings().flows_dir
    try:
        if target.is_dir():
            found = load_flows(target)
        else:
            flow = parse_flow(target.read_text(), str(target))
            found = {flow.key: flow}
    except (FlowErrors, FlowError) as exc:
        errors = exc.errors if isinstance(exc, FlowErrors) else [exc]
        for e in errors:
            click.echo(str(e), err=True)
        raise click.ClickException(f"{len(errors)} problem(s) found") from exc
    for key, flow in sorted(found.items()):
        click.echo(f"ok  {key}  ({len(flow.steps)} steps, version {flow.version})")
