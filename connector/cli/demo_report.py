"""What the demo found, read back from the database, and how it is shown."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from connector.cli.campaign_report import print_report as print_campaign_report
from connector.cli.campaign_report_svg import report_svg
from connector.cli.simulate import TimelineEntry
from connector.cli.timeline import print_timeline, timeline_svg
from connector.models import (
    Contact,
    CrmWriteback,
    EngagementEvent,
    Enrollment,
    EnrollmentJournal,
    InboxEvent,
    Message,
)
from connector.runtime import Runtime
from connector.services.campaigns.report import campaign_report as report_of


@dataclass
class DemoReport:
    events_received: int = 0
    contacts: int = 0
    enrollments: Counter[tuple[str, str]] = field(default_factory=Counter)  # flow, outcome
    sends: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # flow, step, status
    engagement: Counter[str] = field(default_factory=Counter)
    writebacks: Counter[tuple[str, str]] = field(default_factory=Counter)  # kind, status


def collect_report(rt: Runtime, account_ids: Sequence[int]) -> DemoReport:
    """The figures of these accounts together."""
    report = DemoReport()
    mine = (InboxEvent.account_id.in_(account_ids),)
    with rt.db.session() as session:
        report.events_received = session.scalar(select(func.count()).where(*mine)) or 0
        report.contacts = (
            session.scalar(
                select(func.count()).where(
                    Contact.account_id.in_(account_ids), Contact.merged_into_id.is_(None)
                )
            )
            or 0
        )
        for flow, state, reason, count in session.execute(
            select(Enrollment.flow_key, Enrollment.state, Enrollment.exit_reason, func.count())
            .where(Enrollment.account_id.in_(account_ids))
            .group_by(Enrollment.flow_key, Enrollment.state, Enrollment.exit_reason)
        ):
            report.enrollments[(flow, f"{state} ({reason})" if reason else state)] = count
        for flow_key, step, template, status, count in session.execute(
            select(
                Message.flow_key, Message.step_id, Message.template, Message.status, func.count()
            )
            .where(Message.account_id.in_(account_ids))
            .group_by(Message.flow_key, Message.step_id, Message.template, Message.status)
        ):
            # A campaign's emails have no flow and no step.
            where = (flow_key, f"{step} ({template})") if flow_key else ("campaign", template)
            report.sends[(*where, status)] = count
        for kind, count in session.execute(
            select(EngagementEvent.kind, func.count())
            # People's opens and clicks: a scanner's or a proxy's are recorded, not counted.
            .where(EngagementEvent.account_id.in_(account_ids), EngagementEvent.machine.is_(False))
            .group_by(EngagementEvent.kind)
        ):
            report.engagement[kind] = count
        for kind, status, count in session.execute(
            select(CrmWriteback.kind, CrmWriteback.status, func.count())
            .where(CrmWriteback.account_id.in_(account_ids))
            .group_by(CrmWriteback.kind, CrmWriteback.status)
        ):
            report.writebacks[(kind, status)] = count
    return report


def emails_sent(report: DemoReport) -> int:
    return sum(n for (_, _, status), n in report.sends.items() if status == "sent")


def print_report(
    console: Console, report: DemoReport, *, outbox: Path, files: int, timeline: Path
) -> None:
    console.print()
    overview = Table(title="CRM Drip Connector demo", show_header=False)
    overview.add_row("events received (dedup applied)", str(report.events_received))
    overview.add_row("contacts", str(report.contacts))
    overview.add_row("emails sent", str(emails_sent(report)))
    overview.add_row("opens", str(report.engagement["open"]))
    overview.add_row("clicks", str(report.engagement["click"]))
    overview.add_row("unsubscribes", str(report.engagement["unsubscribe"]))
    overview.add_row("CRM write-backs queued", str(sum(report.writebacks.values())))
    overview.add_row(
        "  of which written to the CRM",
        str(sum(n for (_, s), n in report.writebacks.items() if s == "done")),
    )
    console.print(overview)

    flows = Table("flow", "outcome", "enrollments", title="Flows")
    for (flow, outcome), count in sorted(report.enrollments.items()):
        flows.add_row(flow, outcome, str(count))
    console.print(flows)

    steps = Table("flow", "step (template)", "status", "emails", title="Emails per step")
    for (flow, step, status), count in sorted(report.sends.items()):
        steps.add_row(flow, step, status, str(count))
    console.print(steps)

    crm = Table("kind", "status", "writes", title="CRM write-backs (contact timelines)")
    for (kind, status), count in sorted(report.writebacks.items()):
        crm.add_row(kind, status, str(count))
    console.print(crm)
    console.print(f"{files} rendered emails written to [bold]{outbox.resolve()}[/]")
    console.print(f"Alan's flow timeline as a picture: [bold]{timeline.resolve()}[/]")


def print_contact_timeline(
    console: Console, rt: Runtime, email: str, *, start: datetime, svg: Path
) -> None:
    """Every decision the flows made for one contact, as a table and an SVG picture."""
    with rt.db.session() as session:
        rows = (
            session.execute(
                select(EnrollmentJournal)
                .join(Enrollment, Enrollment.id == EnrollmentJournal.enrollment_id)
                .join(Contact, Contact.id == Enrollment.contact_id)
                .where(Contact.email == email, EnrollmentJournal.action != "wait")
                .order_by(EnrollmentJournal.at, EnrollmentJournal.id)
            )
            .scalars()
            .all()
        )
    entries = [
        TimelineEntry(
            at=r.at,
            step=f"{r.flow_key}/{r.step_id or '-'}",
            action=r.action,
            template=r.detail.get("template"),
            detail={k: v for k, v in r.detail.items() if k != "template"},
        )
        for r in rows
    ]
    print_timeline(console, entries, start=start, title=f"{email}: what the flows did")
    svg.write_text(timeline_svg(entries, start=start, title=f"{email}: what the flows did"))


def print_campaign(console: Console, rt: Runtime, account_id: int, key: str, *, svg: Path
                   ) -> None:
    """A sent campaign's report (`connector campaigns report`), and its SVG picture."""
    with rt.db.session() as session:
        found = report_of(session, account_id, key, now=rt.clock.now())
    if found is None:
        raise RuntimeError(f"the demo's campaign {key} was never started")
    console.print()
    print_campaign_report(console, found)
    svg.write_text(report_svg(found))
    console.print(f"The {key} campaign as a picture: [bold]{svg.resolve()}[/]")
