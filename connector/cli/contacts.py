"""`connector contacts`: maintenance of the contact mirror."""

from __future__ import annotations

import click
from rich.console import Console

from connector.cli.context import CliContext, pass_cli

console = Console()


@click.group()
def contacts() -> None:
    """The contact mirror."""


@contacts.command()
@pass_cli
def refresh(cli: CliContext) -> None:
    """Re-evaluate every contact's segments and date/inactivity schedules (run it after
    adding a segment or a date or inactivity flow), with a progress bar."""
    from rich.progress import Progress
    from sqlalchemy import func, select

    from connector import runtime as runtime_module
    from connector.models import Contact
    from connector.services.schedules import refresh_contacts

    rt = cli.runtime(needs_redis="first steps that fall due are queued")
    runtime_module.install(rt)
    try:
        with rt.db.session() as session:
            total = session.scalar(select(func.count()).select_from(Contact)) or 0
        with Progress(console=console) as progress:
            task = progress.add_task("contacts", total=total)
            page = refresh_contacts(rt, rt.clock.now())
            while page:
                progress.advance(task, len(page))
                page = refresh_contacts(rt, rt.clock.now(), after_id=page[-1])
    finally:
        runtime_module.install(None)
    click.echo(f"{total} contact(s) refreshed")
