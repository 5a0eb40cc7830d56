"""`connector sync hubspot` and `connector sync salesforce`: read a CRM's contacts into the
connector, a backfill (the default: every contact fills the mirror and segments, no flow
starts) or one reconciliation (`--reconcile`: what changed since the watermark, as the
missed webhooks or Outbound Messages would have), with a progress bar; the events worker
applies what is stored. One command per CRM, built from its `Vendor` by one function."""

from __future__ import annotations

import time
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Vendor:
    """What a sync command says about its CRM."""

    provider: str  # Account.provider, and the command's name
    name: str  # as people write it
    contacts: str  # what a backfill reads
    changes: str  # what a reconciliation reads
    missed: str  # what a reconciliation stands in for
    deletions: str  # how deletions reach the connector
    reconnect: str  # how a disconnected account comes back


HUBSPOT = Vendor(
    "hubspot", "HubSpot", contacts="every contact",
    changes="the contacts changed since the last sync", missed="missed webhooks",
    deletions="Deletions arrive as webhooks only: none is read here.",
    reconnect="install the app again or `connector accounts connect hubspot` with a new token")
SALESFORCE = Vendor(
    "salesforce", "Salesforce", contacts="every Contact and unconverted Lead",
    changes="the Contacts and Leads changed since the last sync",
    missed="missed Outbound Messages",
    deletions="Either first reads the org's log of deletions since the last sync (it keeps "
              "15 days) and erases those contacts.",
    reconnect="connect the org again (/oauth/salesforce/install) or `connector accounts "
              "connect salesforce` with a new token")
VENDORS = (HUBSPOT, SALESFORCE)


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


def sync_command(vendor: Vendor) -> click.Command:
    """`connector sync <provider>` for this CRM's accounts."""

    @click.command(vendor.provider,
                   short_help=f"Backfill {vendor.name} (or reconcile once), with a progress "
                              "bar.",
                   help=f"Backfill: {vendor.contacts} of {vendor.name} into the mirror and "
                        "segments, no flow starts (the default); or, with --reconcile, "
                        f"{vendor.changes}, as {vendor.missed} would have (flows start). "
                        f"{vendor.deletions} With a progress bar.")
    @click.option("--account", "account_id", type=int, default=None,
                  help=f"One account's id (default: every connected {vendor.name} account).")
    @click.option("--reconcile", is_flag=True,
                  help=f"Read only {vendor.changes} (flows start); default: a backfill.")
    @pass_cli
    def command(cli: CliContext, account_id: int | None, reconcile: bool) -> None:
        _sync(cli, vendor, account_id, reconcile)

    return command


for _vendor in VENDORS:
    sync.add_command(sync_command(_vendor))


def _sync(cli: CliContext, vendor: Vendor, account_id: int | None, reconcile: bool) -> None:
    cli.database(migrate=True)
    rt = cli.runtime(needs_redis="the events worker is woken to apply what is read")
    if account_id is not None:
        _check(rt, vendor, account_id)
    ids = [account_id] if account_id is not None else _connected(rt, vendor)
    if not ids:
        click.echo(f"no connected {vendor.name} accounts: "
                   f"`connector accounts connect {vendor.provider} ...`")
        return
    failures = [f"account {r.account_id}: {_why(vendor, r)}"
                for r in (_run(rt, i, reconcile) for i in ids) if not r.complete]
    if failures:
        raise click.ClickException("\n".join(failures))


def _connected(rt: Runtime, vendor: Vendor) -> list[int]:
    from sqlalchemy import select

    from connector.models import Account

    with rt.db.session() as session:
        return list(session.scalars(
            select(Account.id).where(Account.provider == vendor.provider,
                                     Account.status == "connected").order_by(Account.id)))


def _check(rt: Runtime, vendor: Vendor, account_id: int) -> None:
    from connector.models import Account

    with rt.db.session() as session:
        account = session.get(Account, account_id)
        if account is None:
            raise click.ClickException(f"no account {account_id} (`connector accounts list`)")
        if account.provider != vendor.provider:
            other = any(v.provider == account.provider for v in VENDORS)
            hint = f" (`connector sync {account.provider}`)" if other else ""
            raise click.ClickException(f"account {account_id} is a {account.provider} "
                                       f"account, not a {vendor.name} one{hint}")
        if account.status != "connected":
            reason = f" ({account.disconnect_reason})" if account.disconnect_reason else ""
            raise click.ClickException(
                f"account {account_id} is disconnected{reason}: {vendor.reconnect} first")


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
    deleted = f" and {report.deleted} deletion(s)" if report.deleted is not None else ""
    click.echo(f"account {account_id}: {mode} {verb} {report.contacts} contact(s) in "
               f"{report.pages} page(s){deleted}, {report.stored} new to the inbox, in "
               f"{elapsed:.1f} s ({_rate(report.contacts, elapsed) or 0:,.0f} contacts/s); "
               f"synced through {through}")
    for warning in report.warnings:
        click.echo(f"account {account_id}: warning: {warning}", err=True)
    return report


def _rate(count: float, seconds: float | None) -> float | None:
    return count / seconds if count and seconds else None


def _why(vendor: Vendor, report: SyncReport) -> str:
    if report.outcome == "interrupted":
        return (f"{vendor.name} could not be read ({report.reason}); what was read is kept: "
                "run it again to go on")
    if report.outcome == "disconnected":
        return f"{vendor.name} no longer accepts the account's token ({report.reason})"
    return f"{vendor.name} refused the read ({report.reason})"
