"""What the demo found, read back from the database, and how it is shown."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from connector.models import (
    Contact,
    CrmWriteback,
    EngagementEvent,
    Enrollment,
    InboxEvent,
    Message,
)
from connector.runtime import Runtime


@dataclass
class DemoReport:
    events_received: int = 0
    contacts: int = 0
    enrollments: Counter[tuple[str, str]] = field(default_factory=Counter)  # (flow, state)
    sends: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # flow, step, status
    engagement: Counter[str] = field(default_factory=Counter)
    writebacks: Counter[str] = field(default_factory=Counter)  # status
    written_to_crm: int = 0


def collect_report(rt: Runtime, account_id: int) -> DemoReport:
    report = DemoReport()
    with rt.db.session() as session:
        report.events_received = (
            session.scalar(select(func.count()).where(InboxEvent.account_id == account_id)) or 0
        )
        report.contacts = (
            session.scalar(select(func.count()).where(Contact.account_id == account_id)) or 0
        )
        for flow, state, count in session.execute(
            select(Enrollment.flow_key, Enrollment.state, func.count())
            .where(Enrollment.account_id == account_id)
            .group_by(Enrollment.flow_key, Enrollment.state)
        ):
            report.enrollments[(flow, state)] = count
        for flow, step, template, status, count in session.execute(
            select(
                Message.flow_key, Message.step_id, Message.template, Message.status, func.count()
            )
            .where(Message.account_id == account_id)
            .group_by(Message.flow_key, Message.step_id, Message.template, Message.status)
        ):
            report.sends[(flow or "-", f"{step} ({template})", status)] = count
        for kind, count in session.execute(
            select(EngagementEvent.kind, func.count())
            .where(EngagementEvent.account_id == account_id)
            .group_by(EngagementEvent.kind)
        ):
            report.engagement[kind] = count
        for status, count in session.execute(
            select(CrmWriteback.status, func.count())
            .where(CrmWriteback.account_id == account_id)
            .group_by(CrmWriteback.status)
        ):
            report.writebacks[status] = count
    return report


def print_report(console: Console, report: DemoReport, *, outbox: Path, files: int) -> None:
    console.print()
    overview = Table(title="CRM Drip Connector demo", show_header=False)
    overview.add_row("events received (dedup applied)", str(report.events_received))
    overview.add_row("contacts", str(report.contacts))
    overview.add_row("opens", str(report.engagement["open"]))
    overview.add_row("clicks", str(report.engagement["click"]))
    overview.add_row("unsubscribes", str(report.engagement["unsubscribe"]))
    overview.add_row("CRM write-backs queued", str(sum(report.writebacks.values())))
    overview.add_row("  of which written to the CRM", str(report.writebacks["done"]))
    console.print(overview)

    flows = Table("flow", "state", "enrollments", title="Flows")
    for (flow, state), count in sorted(report.enrollments.items()):
        flows.add_row(flow, state, str(count))
    console.print(flows)

    steps = Table("flow", "step (template)", "status", "emails", title="Emails per step")
    for (flow, step, status), count in sorted(report.sends.items()):
        steps.add_row(flow, step, status, str(count))
    console.print(steps)
    console.print(f"{files} rendered emails written to [bold]{outbox.resolve()}[/]")
