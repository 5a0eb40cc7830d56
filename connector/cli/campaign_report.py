"""`connector campaigns report KEY`: what a started campaign did, as tables (the funnel,
per variant, per link, the first 72 hours), JSON, an SVG picture and a CSV of its
recipients. Added to the campaigns group by connector/cli/campaigns.py."""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from connector.cli.campaign_scope import account_option, campaigns_in, unknown_campaign
from connector.cli.context import CliContext, pass_cli

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from connector.services.campaigns.report import CampaignReport, Engagement

SPARKS = " ▁▂▃▄▅▆▇█"


@click.command()
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@click.option("--svg", "svg_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw the funnel and the 72-hour curve into this SVG file.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write one row per recipient into this CSV file ('-': stdout).")
@account_option
@pass_cli
def report(cli: CliContext, key: str, as_json: bool, svg_path: Path | None,
           csv_path: Path | None, account_id: int | None) -> None:
    """What started campaign KEY did: audience, skipped by reason, sent, bounced, people's
    (and machines') unique opens and clicks, unsubscribes; per variant, per link, and
    hour by hour over the first 72 hours. Rates count people only."""
    from connector.services.campaigns.report import campaign_report

    if as_json and str(csv_path) == "-":
        raise click.UsageError("--json and --csv - would both write to stdout: give --csv a file")
    with campaigns_in(cli, account_id) as (session, account, defined, now):
        found = campaign_report(session, account, key, now=now)
        if found is None:
            if key in defined:
                raise click.ClickException(f"{key} has not been started: nothing to report "
                                           f"(connector campaigns send {key})")
            raise click.ClickException(unknown_campaign(key, account, defined))
        if csv_path is not None:
            if str(csv_path) == "-":
                write_csv(sys.stdout, session, found.campaign_id)
            else:
                with csv_path.open("w", newline="") as out:
                    write_csv(out, session, found.campaign_id)
    if svg_path is not None:
        from connector.cli.campaign_report_svg import report_svg

        svg_path.write_text(report_svg(found))
    if as_json:
        click.echo(json.dumps(found.as_json(), indent=2))
    elif str(csv_path) != "-":
        print_report(Console(), found)


def print_report(console: Console, found: CampaignReport) -> None:
    """The funnel, then per variant and per link, then the 72-hour curve as sparklines."""
    f = found.funnel
    started = f", started {found.started_at:%Y-%m-%d %H:%M %Z}" if found.started_at else ""
    funnel = Table("", "recipients", "rate", title=f"{found.name} ({found.key}): "
                   f"{found.state}{started}")
    funnel.add_row("audience", str(f.audience), "")
    for reason, count in sorted(found.skipped.items()):
        funnel.add_row(f"  skipped: {reason}", str(count), "")
    if found.failed:
        funnel.add_row("  failed", str(found.failed), "")
    funnel.add_row("sent", str(f.sent), "")
    funnel.add_row("  bounced", str(f.bounced), "")
    funnel.add_row("opened (people)", str(f.opened), _percent(f.rate(f.opened)))
    funnel.add_row("  opened by machines only", str(f.opened_machine), "")
    funnel.add_row("clicked (people)", str(f.clicked), _percent(f.rate(f.clicked)))
    funnel.add_row("  clicked by machines only", str(f.clicked_machine), "")
    funnel.add_row("unsubscribed", str(f.unsubscribed), _percent(f.rate(f.unsubscribed)))
    console.print(funnel)
    if len(found.variants) > 1:
        variants = Table("variant", "audience", "sent", "opened", "clicked", "unsubscribed",
                         title="Per variant (people)")
        for name, e in sorted(found.variants.items()):
            variants.add_row(name, str(e.audience), str(e.sent), _with_rate(e, e.opened),
                             _with_rate(e, e.clicked), _with_rate(e, e.unsubscribed))
        console.print(variants)
    if found.links:
        links = Table("template", "#", "people", "clicks", "machine clicks",
                      title="Clicks per link")
        links.add_column("link", overflow="fold")
        for link in found.links:
            links.add_row(link.template, str(link.position), str(link.clickers),
                          str(link.clicks), str(link.machine_clicks), link.url.split("?", 1)[0])
        console.print(links)
    opens, clicks = found.hourly_opens, found.hourly_clicks
    console.print(f"First 72 h, people per hour: {sum(opens)} open(s), {sum(clicks)} "
                  f"click(s), at most {max([*opens, *clicks, 0])} an hour")
    console.print(f"opens  {_sparkline(opens)}")
    console.print(f"clicks {_sparkline(clicks)}")


def write_csv(out: IO[str], session: Session, campaign_id: int) -> None:
    """The recipients' rows, as they stream from the database."""
    from connector.services.campaigns.report_rows import CSV_COLUMNS, recipient_rows

    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for row in recipient_rows(session, campaign_id):
        writer.writerow({k: v.isoformat() if isinstance(v, datetime) else v
                         for k, v in row.items()})


def _percent(rate: float) -> str:
    return f"{rate:.1%}"


def _with_rate(e: Engagement, count: int) -> str:
    return f"{count} ({_percent(e.rate(count))})"


def _sparkline(values: list[int]) -> str:
    peak = max([*values, 1])
    return "".join(SPARKS[round(n / peak * (len(SPARKS) - 1))] if n else "·" for n in values)
