"""`connector campaigns`: campaign definitions as YAML files (`validate`) and their sends
(`list`, `send`, `pause`, `resume`, `cancel`, `status`). The sends are done by the workers;
these commands start them, change their state and show where they stand. `test-send`
sends a test of a campaign itself, recorded nowhere."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from connector.cli.campaign_report import report as report_command
from connector.cli.campaign_scope import (
    account_option,
    campaigns_in,
    resolve_account,
    unknown_campaign,
)
from connector.cli.context import CliContext, pass_cli

if TYPE_CHECKING:
    from connector.runtime import Runtime
    from connector.services.campaigns import CampaignStatus


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
    templates and segments, audience rules SQL cannot resolve, a send_at in the past (one
    without an offset read in the account's timezone, without --account in TIMEZONE),
    each naming file and line. Exits 1 when there is an error; warnings alone pass."""
    from connector.cli.validation import campaigns_folder, validate_campaign_files
    from connector.clock import SystemClock

    settings = cli.settings
    target = path or campaigns_folder(settings.flows_dir)
    if not target.exists():
        raise click.ClickException(f"no campaigns folder {target} (give PATH)")
    with _lists_of(cli, account_id) as (known_lists, timezone):
        report = validate_campaign_files(
            target,
            templates_dir=settings.templates_dir,
            segments_dir=settings.segments_dir,
            now=SystemClock().now(),
            timezone=timezone,
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
) -> Iterator[tuple[Callable[[Collection[str]], Collection[str]] | None, tzinfo]]:
    """Which of some lists have members in the account, and its timezone (without an
    account: the lists are not checked, the zone is the deployment's TIMEZONE, and no
    database is opened)."""
    if account_id is None:
        yield None, cli.settings.default_timezone
        return
    from connector.models import Account
    from connector.workspaces.campaigns import known_lists
    from connector.workspaces.live import account_timezone

    with cli.database().session() as session:
        account = session.get(Account, account_id)
        if account is None:
            raise click.ClickException(f"no account {account_id}")
        yield (lambda keys: known_lists(session, account_id, keys),
               account_timezone(account, cli.settings))


# How often `send --wait` looks again.
POLL_SECONDS = 1.0
# A send in one of these states has nothing more coming for `--wait`.
SETTLED = ("sent", "paused", "cancelled")


@campaigns.command("list")
@account_option
@pass_cli
def list_command(cli: CliContext, account_id: int | None) -> None:
    """Every campaign of the live workspace and every one started: state, audience, sent."""
    with campaigns_in(cli, account_id) as (session, account, defined, now):
        from connector.services.campaigns import campaign_statuses

        statuses = campaign_statuses(session, account, defined=defined, now=now)
    if not statuses:
        click.echo(f"account {account} has no campaigns")
        return
    table = Table("key", "name", "state", "audience", "sent", "skipped", "failed")
    for s in statuses:
        table.add_row(s.key, s.name, s.state, "" if s.audience is None else str(s.audience),
                      str(s.sent), str(sum(s.skipped.values())), str(s.failed))
    Console().print(table)


@campaigns.command()
@click.argument("key")
@click.option("--at", "at_text", metavar="ISO",
              help="Start then instead of now (or of its send_at): an ISO time with an "
              "offset, such as 2026-05-01T09:00+02:00.")
@click.option("--wait", is_flag=True,
              help="Show the progress until it is sent (or paused or cancelled elsewhere).")
@account_option
@pass_cli
def send(cli: CliContext, key: str, at_text: str | None, wait: bool,
         account_id: int | None) -> None:
    """Start campaign KEY of the live workspace: its audience is frozen when sending
    starts, and the workers send it chunk by chunk at its throttle."""
    from connector.services.campaigns import CampaignError, start_campaign

    rt = cli.runtime(needs_redis="the send is queued for the workers")
    with rt.db.session() as session:
        account = resolve_account(session, account_id)
    at = _parse_at(at_text, rt.clock.now())
    try:
        start_campaign(rt, account, key, at=at)
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from exc
    current = _status_now(rt, account, key)
    if current.state == "scheduled":
        click.echo(f"{key}: scheduled for {current.send_at:%Y-%m-%d %H:%M %Z}")
        return
    click.echo(f"{key}: sending to {current.audience} contact(s)")
    if wait:
        _follow(rt, account, key)


@campaigns.command()
@click.argument("key")
@account_option
@pass_cli
def pause(cli: CliContext, key: str, account_id: int | None) -> None:
    """Stop sending KEY after the chunk in progress (resume goes on from there)."""
    _control(cli, key, account_id, "pause", "paused")


@campaigns.command()
@click.argument("key")
@account_option
@pass_cli
def resume(cli: CliContext, key: str, account_id: int | None) -> None:
    """Go on sending a paused KEY."""
    _control(cli, key, account_id, "resume", "sending")


@campaigns.command()
@click.argument("key")
@account_option
@pass_cli
def cancel(cli: CliContext, key: str, account_id: int | None) -> None:
    """Stop KEY for good: the recipients not mailed yet never will be."""
    _control(cli, key, account_id, "cancel", "cancelled")


@campaigns.command()
@click.argument("key", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object (a list without KEY).")
@account_option
@pass_cli
def status(cli: CliContext, key: str | None, as_json: bool, account_id: int | None) -> None:
    """Where KEY's send stands (every campaign without KEY): sent of the audience, skipped
    by reason, failed, rate and time left."""
    from connector.services.campaigns import campaign_status, campaign_statuses

    with campaigns_in(cli, account_id) as (session, account, defined, now):
        if key is None:
            statuses = campaign_statuses(session, account, defined=defined, now=now)
        else:
            found = campaign_status(session, account, key, defined=defined, now=now)
            if found is None:
                raise click.ClickException(unknown_campaign(key, account, defined))
            statuses = [found]
    if as_json:
        data = [s.as_json() for s in statuses]
        click.echo(json.dumps(data[0] if key is not None else data, indent=2))
        return
    console = Console()
    for s in statuses:
        _print_status(console, s)


class _Refused(click.ClickException):
    """A test send refused as asked (unknown key, contact, variant; a bad, suppressed or
    eleventh address): a usage error, exit 2, nothing sent."""

    exit_code = 2


@campaigns.command("test-send")
@click.argument("key")
@click.option("--to", "to", multiple=True, required=True, metavar="ADDR",
              help="Send the test to this address (repeatable, at most 10).")
@click.option("--as", "as_contact", metavar="CONTACT",
              help="Render it for this stored contact: an email or a CRM id (default: the "
              "audience's first member, else a sample contact with placeholder "
              "properties).")
@click.option("--variant", metavar="NAME",
              help="Only this variant of an A/B test (default: each variant).")
@click.option("--json", "as_json", is_flag=True, help="A JSON list, one object per email.")
@account_option
@pass_cli
def send_test(cli: CliContext, key: str, to: tuple[str, ...], as_contact: str | None,
             variant: str | None, as_json: bool, account_id: int | None) -> None:
    """Send campaign KEY's email to a few addresses, subject prefixed "[Test] ", through
    MAIL_URL's transport, in any state (draft, scheduled, sent). Recorded nowhere: no
    status, report, frequency cap or CRM timeline counts it, and its links are not
    tracked. A refusal exits 2, a template error 1: neither sends anything."""
    from connector.clock import SystemClock
    from connector.email.errors import TemplateError
    from connector.email.transports import transport_from_url
    from connector.services.campaigns import (
        DeliveryFailed,
        RefusedTestSend,
        UnknownCampaign,
        deliver_test_emails,
        prepare_test_emails,
    )
    from connector.workspaces import Workspaces

    settings = cli.settings
    with cli.database().session() as session:
        account = resolve_account(session, account_id)
        live = Workspaces(settings).live(session, account)
        try:
            prepared = prepare_test_emails(
                session, live, key, to=to, as_contact=as_contact, variant=variant,
                base_url=settings.base_url, now=SystemClock().now())
        except UnknownCampaign:
            raise _Refused(unknown_campaign(key, account, live.workspace.campaigns)) from None
        except RefusedTestSend as exc:
            raise _Refused(f"{exc} (nothing sent)") from exc
        except TemplateError as exc:
            raise click.ClickException(f"{exc} (nothing sent)") from exc
    transport = transport_from_url(settings.mail)
    try:
        sent, failure = deliver_test_emails(transport, prepared), None
    except DeliveryFailed as exc:
        sent, failure = exc.sent, exc
    finally:
        transport.close()
    if as_json:
        click.echo(json.dumps([email.as_json() for email in sent], indent=2))
    else:
        click.echo(f"{key}: {prepared.contact.describe()}")
        for email in sent:
            click.echo(f"sent  {email.variant or '-'}  {email.subject!r}  to {email.to}  "
                       f"{email.size:,} bytes")
    if failure is not None:
        raise click.ClickException(str(failure))


def _control(cli: CliContext, key: str, account_id: int | None, verb: str, state: str
             ) -> None:
    from connector.services import campaigns as service

    rt = cli.runtime(needs_redis=f"a {verb} reaches the workers through it")
    with rt.db.session() as session:
        account = resolve_account(session, account_id)
    try:
        getattr(service, f"{verb}_campaign")(rt, account, key)
    except service.CampaignError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{key}: {state}")


def _follow(rt: Runtime, account: int, key: str) -> None:
    """A progress bar until the send settles; the workers do the sending."""
    current = _status_now(rt, account, key)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[rate]}"), TextColumn("{task.fields[left]}"),
                  console=Console()) as progress:
        task = progress.add_task(key, total=current.audience or 0, rate="", left="")
        while True:
            rate, left = _rate_fields(current)
            progress.update(task, completed=_done(current), rate=rate, left=left)
            if current.state in SETTLED:
                break
            time.sleep(POLL_SECONDS)
            current = _status_now(rt, account, key)
    click.echo(f"{key}: {current.state}: {_summary(current)}")


def _print_status(console: Console, s: CampaignStatus) -> None:
    console.print(f"[bold]{s.key}[/bold] ({s.name}): {s.state}"
                  + (f", starts {s.send_at:%Y-%m-%d %H:%M %Z}" if s.state == "scheduled"
                     and s.send_at else ""))
    if s.audience is None:
        return
    progress = Progress(TextColumn("  "), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[rate]}"), TextColumn("{task.fields[left]}"),
                        console=console, auto_refresh=False)
    rate, left = _rate_fields(s)
    progress.add_task(s.key, total=s.audience, completed=_done(s), rate=rate, left=left)
    console.print(progress.get_renderable())
    console.print(f"  {_summary(s)}")
    if s.winner is not None and s.winner_reason is not None:
        console.print(f"  winner {s.winner}: {s.winner_reason['summary']}", markup=False)


def _done(s: CampaignStatus) -> int:
    return (s.audience or 0) - s.remaining


def _rate_fields(s: CampaignStatus) -> tuple[str, str]:
    """The bar's rate and time-left columns."""
    left = s.seconds_left
    return (f"{s.rate_per_minute:.0f}/min",
            "" if s.state in SETTLED else
            "time left unknown" if left is None else f"{_duration(left)} left")


def _summary(s: CampaignStatus) -> str:
    skipped = ", ".join(f"{reason} {count}" for reason, count in sorted(s.skipped.items()))
    parts = [f"sent {s.sent} of {s.audience}", f"skipped {sum(s.skipped.values())}"
             + (f" ({skipped})" if skipped else ""), f"failed {s.failed}"]
    if s.uncertain:
        parts.append(f"uncertain {s.uncertain} (never resent)")
    if s.in_flight:
        parts.append(f"in flight {s.in_flight}")
    return ", ".join(parts)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _status_now(rt: Runtime, account: int, key: str) -> CampaignStatus:
    from connector.services.campaigns import campaign_status

    with rt.db.session() as session:
        defined = rt.workspaces.live(session, account).workspace.campaigns
        found = campaign_status(session, account, key, defined=defined, now=rt.clock.now())
    if found is None:
        raise click.ClickException(unknown_campaign(key, account, defined))
    return found


def _parse_at(text: str | None, now: datetime) -> datetime | None:
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"expected an ISO time such as 2026-05-01T09:00+02:00, "
                                 f"got {text!r}", param_hint="--at") from None
    if at.tzinfo is None:
        raise click.BadParameter(f"{text!r} has no UTC offset (2026-05-01T09:00+02:00)",
                                 param_hint="--at")
    if at <= now:
        raise click.BadParameter(f"{text} has passed (leave --at out to send now)",
                                 param_hint="--at")
    return at


campaigns.add_command(report_command)
