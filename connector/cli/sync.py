"""`connector sync hubspot`: read HubSpot contacts into the connector, a backfill (the
default: every contact fills the mirror and segments, no flow starts) or one
reconciliation (`--reconcile`: what changed since the watermark, as the missed webhooks
would have), with a progress bar; the events worker applies what is stored."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Task as ProgressTask
from rich.text import Text

from connector.cli.context import CliContext, pass_cli

if TYPE_CHECKING:
    from connector.runtime import Runtime
    from connector.services.sync import SyncReport

console = Console()

PROVIDER = "hubspot"


class RateColumn(ProgressColumn):
    """Contacts read per second."""

    def render(self, task: ProgressTask) -> Text:
        # Rich's own speed needs a few updates a second; a fast sync has fewer.
        speed = task.finished_speed or task.speed or _rate(task.completed, task.elapsed)
        return Text(f"{speed:,.0f} contacts/s" if speed else "- contacts/s",
                    style="progress.data.speed")


@click.group()
def sync() -> None:
    """Read a CRM's contacts into the connector."""


@sync.command("hubspot")
@click.option("--account", "account_id", type=int, default=None,
              help="One account's id (default: every connected HubSpot account).")
@click.option("--reconcile", is_flag=True,
              help="Read only what changed since the last sync, as missed webhooks "
                   "(flows start); default: a backfill of every contact (no flow starts).")
@pass_cli
def sync_hubspot(cli: CliContext, account_id: int | None, reconcile: bool) -> None:
    """Backfill HubSpot contacts (or reconcile once), with a progress bar."""
    cli.database(migrate=True)
    rt = cli.runtime(needs_redis="the events worker is woken to apply what is read")
    if account_id is not None:
        _check(rt, account_id)
    ids = [account_id] if account_id is not None else _connected(rt)
    if not ids:
        click.echo("no connected HubSpot accounts: `connector accounts connect hubspot ...`")
        return
    failures = [f"account {r.account_id}: {_why(r)}"
                for r in (_run(rt, i, reconcile) for i in ids) if not r.complete]
    if failures:
        raise click.ClickException("\n".join(failures))


def _connected(rt: Runtime) -> list[int]:
    from sqlalchemy import select

    from connector.models import Account

    with rt.db.session() as session:
        return list(session.scalars(
            select(Account.id).where(Account.provider == PROVIDER,
                                     Account.status == "connected").order_by(Account.id)))


def _check(rt: Runtime, account_id: int) -> None:
    from connector.models import Account

    with rt.db.session() as session:
        account = session.get(Account, account_id)
        if account is None:
            raise click.ClickException(f"no account {account_id} (`connector accounts list`)")
        if account.provider != PROVIDER:
            raise click.ClickException(
                f"account {account_id} is a {account.provider} account, not a HubSpot one")
        if account.status != "connected":
            reason = f" ({account.disconnect_reason})" if account.disconnect_reason else ""
            raise click.ClickException(
                f"account {account_id} is disconnected{reason}: install the app again or "
                "`connector accounts connect hubspot` with a new token first")


def _run(rt: Runtime, account_id: int, reconcile: bool) -> SyncReport:
    from connector.services.sync import backfill
    from connector.services.sync import reconcile as reconcile_account

    mode = "reconcile" if reconcile else "backfill"
    started = time.monotonic()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  RateColumn(), TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task(f"account {account_id} {mode}", total=None)

        def show(report: SyncReport) -> None:
            progress.update(task, completed=report.contacts, total=report.total)

        try:
            report = (reconcile_account if reconcile else backfill)(rt, account_id,
                                                                    progress=show)
        except LookupError as exc:
            raise click.ClickException(str(exc)) from exc
        progress.update(task, completed=report.contacts,
                        total=report.total if report.total is not None else report.contacts)
    elapsed = time.monotonic() - started
    through = report.synced_through.isoformat() if report.synced_through else "never"
    verb = "read" if report.complete else "stopped after"
    click.echo(f"account {account_id}: {mode} {verb} {report.contacts} contact(s) in "
               f"{report.pages} page(s), {report.stored} new to the inbox, in {elapsed:.1f} s "
               f"({_rate(report.contacts, elapsed) or 0:,.0f} contacts/s); synced through "
               f"{through}")
    return report


def _rate(count: float, seconds: float | None) -> float | None:
    return count / seconds if count and seconds else None


def _why(report: SyncReport) -> str:
    if report.outcome == "interrupted":
        return (f"HubSpot could not be read ({report.reason}); what was read is kept: "
                "run it again to go on")
    if report.outcome == "disconnected":
        return f"HubSpot no longer accepts the account's token ({report.reason})"
    return f"HubSpot refused the read ({report.reason})"
