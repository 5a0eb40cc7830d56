"""`connector flows`: validate, simulate, and operate (status, pause, resume, archive)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from connector.cli.context import CliContext, pass_cli
from connector.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from connector.workspaces import FlowRegistry

console = Console()


@click.group()
def flows() -> None:
    """Flows as YAML files."""


@flows.command()
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@pass_cli
def validate(cli: CliContext, path: Path | None) -> None:
    """Check every flow in PATH (default FLOWS_DIR): schema errors and lints (unreachable
    steps, missing templates, unknown segments and properties, loops without a wait),
    each naming file and line; then the campaigns of the same workspace (campaigns/ beside
    a flows/ folder) as `campaigns validate` does. Exits 1 when there is an error;
    warnings alone pass."""
    from connector.cli.validation import campaigns_folder, validate_flows, workspace_campaigns
    from connector.clock import SystemClock

    settings = cli.settings
    campaigns = campaigns_folder(settings.flows_dir) if path is None else workspace_campaigns(path)
    report = validate_flows(
        path or settings.flows_dir,
        templates_dir=settings.templates_dir,
        segments_dir=settings.segments_dir,
        flows_dir=settings.flows_dir,
        campaigns_dir=campaigns if campaigns is not None and campaigns.is_dir() else None,
        now=SystemClock().now(),
        timezone=settings.default_timezone,
    )
    for line in report.lines:
        click.echo(line, err=not line.startswith("ok "))
    if report.errors:
        raise click.ClickException(f"{report.errors} error(s), {report.warnings} warning(s)")
    click.echo(report.summary())


@flows.command()
@click.argument("flow")
@click.option(
    "--contact",
    "contact_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON: {"email", "timezone"?, "properties"?}',
)
@click.option("--days", required=True, type=click.IntRange(1, 3660))
@click.option(
    "--events",
    "events_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON list: [{"event", "at" (ISO 8601), "properties"?}]',
)
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as JSON.")
@click.option(
    "--svg",
    "svg_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also draw the timeline as an SVG picture into this file.",
)
@pass_cli
def simulate(
    cli: CliContext,
    flow: str,
    contact_file: Path,
    days: int,
    events_file: Path | None,
    as_json: bool,
    svg_file: Path | None,
) -> None:
    """Run one contact through FLOW (a key in FLOWS_DIR or a file) on a virtual clock.

    Starts at the first event's time (or now) and prints what the contact would get and
    when. The real services and engine run against a throwaway database.
    """
    from connector.cli.simulate import SimulationError, parse_contact, parse_events
    from connector.cli.simulate import simulate as run_simulation
    from connector.clock import SystemClock

    settings = cli.settings
    flow_file = _flow_file(settings, flow)
    try:
        contact = parse_contact(_read_json(contact_file, "--contact"))
        events = parse_events(_read_json(events_file, "--events")) if events_file else []
        start = min((e.at for e in events), default=SystemClock().now())
        timeline = run_simulation(settings, flow_file, contact, events, start=start, days=days)
    except SimulationError as exc:
        raise click.ClickException(str(exc)) from exc
    from connector.cli.timeline import print_timeline, timeline_svg

    title = f"{flow_file.stem}: {contact['email']}"
    if svg_file:
        svg_file.write_text(timeline_svg(timeline, start=start, title=title))
    if as_json:
        click.echo(json.dumps([entry.as_json() for entry in timeline], indent=2))
    else:
        print_timeline(console, timeline, start=start, title=title)


def _flow_file(settings: Settings, flow: str) -> Path:
    candidate = Path(flow)
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return candidate
    for suffix in (".yaml", ".yml"):
        path = settings.flows_dir / f"{flow}{suffix}"
        if path.is_file():
            return path
    raise click.ClickException(f"no flow {flow!r} in {settings.flows_dir} (give a key or a file)")


def _read_json(path: Path, option: str) -> object:
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{option} {path}: not valid JSON: {exc}") from exc


ACCOUNT = click.option(
    "--account",
    "account_id",
    type=int,
    help="The account whose flows these are (may be left out when there is only one).",
)


@flows.command("status")
@ACCOUNT
@pass_cli
def status_command(cli: CliContext, account_id: int | None) -> None:
    """Each flow's status (active, paused, archived) and its enrollments."""
    from sqlalchemy import func, select

    from connector.models import Enrollment

    with _flow_registry(cli, account_id) as (registry, session):
        statuses = registry.statuses(session)
        counts = dict(
            session.execute(
                select(Enrollment.flow_key, func.count())
                .where(Enrollment.account_id == registry.account_id, Enrollment.state == "active")
                .group_by(Enrollment.flow_key)
            ).all()
        )
    table = Table("flow", "status", "active enrollments", "version")
    for flow in registry.all():
        table.add_row(flow.key, statuses[flow.key], str(counts.get(flow.key, 0)), flow.version)
    console.print(table)


def _set_status(cli: CliContext, account_id: int | None, flow: str, status: str) -> None:
    from connector.clock import SystemClock
    from connector.services.flow_status import FlowStatusError, set_flow_status

    with _flow_registry(cli, account_id, write=True) as (registry, session):
        try:
            message = set_flow_status(session, registry, flow, status, SystemClock().now())
        except FlowStatusError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(message)


@flows.command()
@click.argument("flow")
@ACCOUNT
@pass_cli
def pause(cli: CliContext, flow: str, account_id: int | None) -> None:
    """No new entries; contacts already in the flow hold where they are."""
    _set_status(cli, account_id, flow, "paused")


@flows.command()
@click.argument("flow")
@ACCOUNT
@pass_cli
def resume(cli: CliContext, flow: str, account_id: int | None) -> None:
    """Take new entries again; held contacts carry on."""
    _set_status(cli, account_id, flow, "active")


@flows.command()
@click.argument("flow")
@ACCOUNT
@pass_cli
def archive(cli: CliContext, flow: str, account_id: int | None) -> None:
    """No new entries; contacts in the flow exit."""
    _set_status(cli, account_id, flow, "archived")


@contextmanager
def _flow_registry(
    cli: CliContext, account_id: int | None, *, write: bool = False
) -> Iterator[tuple[FlowRegistry, Session]]:
    """The account's live flows and a database session (status changes touch only the
    database)."""
    from sqlalchemy import select

    from connector.models import Account
    from connector.workspaces import Workspaces

    database = cli.database(migrate=write)
    with database.session() as session:
        if account_id is None:
            ids = session.scalars(select(Account.id).order_by(Account.id)).all()
            if len(ids) != 1:
                known = ", ".join(map(str, ids)) or "none yet"
                raise click.UsageError(f"give --account (accounts: {known})")
            account_id = ids[0]
        try:
            live = Workspaces(cli.settings).live(session, account_id)
        except LookupError as exc:
            raise click.ClickException(str(exc)) from exc
        yield live.flows, session
