"""`connector deploy`: make a workspace folder an account's live definitions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NoReturn

import click

from connector.cli.context import CliContext, pass_cli


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--account", "account_id", type=int, required=True, help="The account id.")
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_cli
def deploy(cli: CliContext, folder: Path, account_id: int, dry_run: bool, as_json: bool) -> None:
    """Check every file of FOLDER (flows/, segments/, templates/, campaigns/: everything
    `flows validate` checks, templates compiled, segments parsed, no campaign's send_at
    past) and make it the account's live workspace in one step: all or nothing,
    versioned, the previous version kept."""
    from connector.clock import SystemClock
    from connector.workspaces import WorkspaceError, deploy_files, read_folder

    database = cli.database(migrate=not dry_run)
    now = SystemClock().now()
    try:
        files = read_folder(folder)
        report = deploy_files(database, cli.settings, account_id, files, now=now,
                              dry_run=dry_run)
    except WorkspaceError as exc:
        _refuse(exc.errors)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2))
        return
    for line in report.lines():
        click.echo(line)
    if report.unchanged:
        click.echo(f"account {account_id}: unchanged (version {report.version})")
    elif dry_run:
        click.echo(f"account {account_id}: dry run, version {report.version} would go live "
                   f"(now {report.previous_version or 'none'}); nothing changed")
    else:
        click.echo(f"account {account_id}: version {report.version} is live "
                   f"(previous {report.previous_version or 'none'}, kept)")


def _refuse(errors: list[str]) -> NoReturn:
    for line in errors:
        click.echo(line, err=True)
    raise click.ClickException(
        f"{len(errors)} error(s): nothing deployed, the live version is unchanged"
    )
