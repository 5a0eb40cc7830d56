"""The `connector` command."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from connector.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from connector.flow_registry import FlowRegistry

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
def contacts() -> None:
    """The contact mirror."""


@contacts.command()
def refresh() -> None:
    """Re-evaluate every contact's segments and date/inactivity schedules (run it after
    adding a segment or a date or inactivity flow), with a progress bar."""
    from rich.progress import Progress
    from sqlalchemy import func, select

    from connector import runtime as runtime_module
    from connector.models import Contact
    from connector.runtime import build_runtime
    from connector.services.schedules import refresh_contacts

    settings = _settings()
    if not settings.redis_url:
        raise click.ClickException("REDIS_URL is not set (first steps that fall due are queued)")
    rt = build_runtime(settings)
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
        rt.close()
    click.echo(f"{total} contact(s) refreshed")


@main.group()
def flows() -> None:
    """Flows as YAML files."""


@flows.command()
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
def validate(path: Path | None) -> None:
    """Check every flow in PATH (default FLOWS_DIR): schema errors and lints (unreachable
    steps, missing templates, unknown segments and properties, loops without a wait),
    each naming file and line. Exits 1 when there is an error; warnings alone pass."""
    from connector.validation import validate_flows

    settings = _settings()
    report = validate_flows(
        path or settings.flows_dir,
        templates_dir=settings.templates_dir,
        segments_dir=settings.segments_dir,
        flows_dir=settings.flows_dir,
    )
    for line in report.lines:
        click.echo(line, err=not line.startswith("ok "))
    if report.errors:
        raise click.ClickException(f"{report.errors} error(s), {report.warnings} warning(s)")
    click.echo(f"{report.flows} flow(s) valid, {report.warnings} warning(s)")


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
def simulate(
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
    from connector.clock import SystemClock
    from connector.simulate import SimulationError, parse_contact, parse_events
    from connector.simulate import simulate as run_simulation

    settings = _settings()
    flow_file = _flow_file(settings, flow)
    try:
        contact = parse_contact(_read_json(contact_file, "--contact"))
        events = parse_events(_read_json(events_file, "--events")) if events_file else []
        start = min((e.at for e in events), default=SystemClock().now())
        timeline = run_simulation(settings, flow_file, contact, events, start=start, days=days)
    except SimulationError as exc:
        raise click.ClickException(str(exc)) from exc
    from connector.timeline import print_timeline, timeline_svg

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


@flows.command("status")
def status_command() -> None:
    """Each flow's status (active, paused, archived) and its enrollments."""
    from sqlalchemy import func, select

    from connector.models import Enrollment

    with _flow_registry() as (registry, session):
        statuses = registry.statuses(session)
        counts = dict(
            session.execute(
                select(Enrollment.flow_key, func.count())
                .where(Enrollment.state == "active")
                .group_by(Enrollment.flow_key)
            ).all()
        )
    table = Table("flow", "status", "active enrollments", "version")
    for flow in registry.all():
        table.add_row(flow.key, statuses[flow.key], str(counts.get(flow.key, 0)), flow.version)
    console.print(table)


def _set_status(flow: str, status: str) -> None:
    from connector.clock import SystemClock
    from connector.services.flow_status import FlowStatusError, set_flow_status

    with _flow_registry() as (registry, session):
        try:
            message = set_flow_status(session, registry, flow, status, SystemClock().now())
        except FlowStatusError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(message)


@flows.command()
@click.argument("flow")
def pause(flow: str) -> None:
    """No new entries; contacts already in the flow hold where they are."""
    _set_status(flow, "paused")


@flows.command()
@click.argument("flow")
def resume(flow: str) -> None:
    """Take new entries again; held contacts carry on."""
    _set_status(flow, "active")


@flows.command()
@click.argument("flow")
def archive(flow: str) -> None:
    """No new entries; contacts in the flow exit."""
    _set_status(flow, "archived")


@contextmanager
def _flow_registry() -> Iterator[tuple[FlowRegistry, Session]]:
    """The flows and a database session (status changes touch only the database)."""
    from connector.db import Database
    from connector.flow_registry import FlowRegistry
    from connector.migrate import upgrade as run_upgrade

    settings = _settings()
    run_upgrade(settings.sqlalchemy_url)
    database = Database(settings.sqlalchemy_url)
    try:
        registry = FlowRegistry.load(settings.flows_dir, database)
        with database.session() as session:
            yield registry, session
    finally:
        database.dispose()
