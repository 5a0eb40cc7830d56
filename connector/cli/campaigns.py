"""`connector campaigns`: campaign definitions as YAML files. Only `validate` exists so far;
sending is being built."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from connector.cli.context import CliContext, pass_cli


@click.group()
def campaigns() -> None:
    """Campaigns: one-time sends to a segment or list, as YAML files."""


@campaigns.command()
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--account",
    "account_id",
    type=int,
    help="Also check the lists against this account's contacts (a list nobody is in warns).",
)
@pass_cli
def validate(cli: CliContext, path: Path | None, account_id: int | None) -> None:
    """Check every campaign in PATH (a folder or one file; default the campaigns/ folder
    beside FLOWS_DIR) against TEMPLATES_DIR and SEGMENTS_DIR: schema errors, unknown
    templates and segments, audience rules SQL cannot resolve, a send_at in the past,
    each naming file and line. Exits 1 when there is an error; warnings alone pass."""
    from connector.cli.validation import campaigns_folder, validate_campaign_files
    from connector.clock import SystemClock

    settings = cli.settings
    target = path or campaigns_folder(settings.flows_dir)
    if not target.exists():
        raise click.ClickException(f"no campaigns folder {target} (give PATH)")
    with _lists_of(cli, account_id) as known_lists:
        report = validate_campaign_files(
            target,
            templates_dir=settings.templates_dir,
            segments_dir=settings.segments_dir,
            now=SystemClock().now(),
            known_lists=known_lists,
        )
    for line in report.lines:
        click.echo(line, err=not line.startswith("ok "))
    if report.errors:
        raise click.ClickException(f"{report.errors} error(s), {report.warnings} warning(s)")
    click.echo(report.summary())


@contextmanager
def _lists_of(
    cli: CliContext, account_id: int | None
) -> Iterator[Callable[[Collection[str]], Collection[str]] | None]:
    """Which of some lists have members in the account (None without an account: the
    lists are not checked, and no database is opened)."""
    if account_id is None:
        yield None
        return
    from connector.models import Account
    from connector.workspaces.campaigns import known_lists

    with cli.database().session() as session:
        if session.get(Account, account_id) is None:
            raise click.ClickException(f"no account {account_id}")
        yield lambda keys: known_lists(session, account_id, keys)
