"""The `connector` command group: the process commands (demo, serve, worker, db) here, the
rest in one module per noun (accounts, contacts, deploy, flows)."""

from __future__ import annotations

import sys

import click
from rich.console import Console

from connector.cli.accounts import accounts
from connector.cli.campaigns import campaigns
from connector.cli.contacts import contacts
from connector.cli.context import CliContext, pass_cli
from connector.cli.deploy import deploy
from connector.cli.devcrm import devcrm
from connector.cli.flows import flows
from connector.cli.hubspot_app import hubspot_app
from connector.cli.sync import sync

console = Console()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """CRM Drip Connector: drip flows and campaigns inside HubSpot and Salesforce."""
    ctx.obj = CliContext(ctx)


@main.command()
@click.option("--keep", is_flag=True, help="Keep var/demo from a previous run.")
@pass_cli
def demo(cli: CliContext, keep: bool) -> None:
    """Run the whole loop on embedded defaults on a virtual clock and print a summary."""
    from connector.cli.demo import run_demo

    sys.exit(run_demo(cli.settings, console, fresh=not keep))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 16))
@pass_cli
def serve(cli: CliContext, host: str, workers: int) -> None:
    """Web + worker + scheduler in one command (embedded Redis unless REDIS_URL is set); a
    SQLite database is migrated, a server database behind the latest migration refused."""
    from connector.local.serve import run_serve
    from connector.migrate import SchemaBehindError

    try:
        code = run_serve(cli.settings, host=host, workers=workers)
    except SchemaBehindError as exc:
        raise click.ClickException(str(exc)) from exc
    sys.exit(code)


@main.command()
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
@click.option("--no-ticker", is_flag=True, help="Do not enqueue scheduler ticks.")
@pass_cli
def worker(cli: CliContext, queues: tuple[str, ...], burst: bool, no_ticker: bool) -> None:
    """An RQ worker for QUEUES (default: all), with RQ's scheduler and the ticker.

    Queues are served round robin, scheduler and send first, so no backlog starves the
    others; the process survives Redis outages."""
    from connector.queues import QUEUE_NAMES
    from connector.worker import run_worker

    rt = cli.runtime(needs_redis="use `connector serve` locally")
    try:
        run_worker(rt, queues or QUEUE_NAMES, ticker=not no_ticker, burst=burst)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


@main.group()
def db() -> None:
    """Database migrations."""


@db.command()
@pass_cli
def upgrade(cli: CliContext) -> None:
    """Apply every migration (the Procfile's release phase)."""
    cli.database(migrate=True)
    click.echo("database is up to date")


main.add_command(accounts)
main.add_command(campaigns)
main.add_command(contacts)
main.add_command(deploy)
main.add_command(devcrm)
main.add_command(flows)
main.add_command(hubspot_app)
main.add_command(sync)
