"""What a sent campaign did (issue 10, "Measure"): the funnel from the frozen audience to
the unsubscribes, clicks per link, figures per variant and the first 72 hours hour by hour,
each counted in SQL from campaign_recipients, the ledger and engagement_events: nothing
of the audience passes through this process.

Opens and clicks are counted once per recipient ("unique"). A recipient with a person's
open counts as a human open; one whose only opens were a machine's (a privacy proxy's
prefetch, docs/engagement.md) as a machine open, so the two add up to everyone opened.
Rates count humans, over the emails delivered (sent and not bounced). One row per
recipient, for a CSV, is report_rows.py's."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.sql.elements import ColumnElement

from connector.models import CampaignRecipient, CampaignRun, EngagementEvent, Message
from connector.services.campaigns.status import campaign_status

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# The engagement curve's length, in hourly buckets from the start of the send.
CURVE_HOURS = 72
# A recipient with no variant (a campaign without an A/B test).
NO_VARIANT = "-"
# Ledger statuses of an email handed to the mail server and answered.
ANSWERED = ("sent", "bounced")


@dataclass(frozen=True)
class Engagement:
    """Unique recipients who did each thing (people, and machines only)."""

    audience: int = 0
    sent: int = 0  # handed to the mail server and answered (bounced included)
    bounced: int = 0
    opened: int = 0
    opened_machine: int = 0
    clicked: int = 0
    clicked_machine: int = 0
    unsubscribed: int = 0

    @property
    def delivered(self) -> int:
        return self.sent - self.bounced

    def rate(self, count: int) -> float:
        """`count` over the emails delivered (0 when none was)."""
        return count / self.delivered if self.delivered else 0.0

    @property
    def click_to_open(self) -> float:
        return self.clicked / self.opened if self.opened else 0.0


@dataclass(frozen=True)
class LinkClicks:
    """One link of a template's email, by position (`Message.links`)."""

    template: str
    position: int
    url: str
    clickers: int  # people who clicked it
    clicks: int  # people's clicks
    machine_clicks: int


@dataclass(frozen=True)
class CampaignReport:
    campaign_id: int
    key: str
    name: str
    state: str
    started_at: datetime | None
    funnel: Engagement
    skipped: dict[str, int]
    failed: int
    variants: dict[str, Engagement]
    links: list[LinkClicks]
    # People's opens and clicks (every one, not unique) in hour n after the start.
    hourly_opens: list[int] = field(default_factory=list)
    hourly_clicks: list[int] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        def figures(e: Engagement) -> dict[str, Any]:
            return {
                "audience": e.audience, "sent": e.sent, "bounced": e.bounced,
                "delivered": e.delivered, "opened": e.opened,
                "opened_machine": e.opened_machine, "clicked": e.clicked,
                "clicked_machine": e.clicked_machine, "unsubscribed": e.unsubscribed,
                "open_rate": round(e.rate(e.opened), 4),
                "click_rate": round(e.rate(e.clicked), 4),
                "click_to_open": round(e.click_to_open, 4),
                "unsubscribe_rate": round(e.rate(e.unsubscribed), 4),
            }

        return {
            "key": self.key, "name": self.name, "state": self.state,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "funnel": {**figures(self.funnel), "skipped": dict(self.skipped),
                       "failed": self.failed},
            "variants": {name: figures(e) for name, e in self.variants.items()},
            "links": [vars(link) for link in self.links],
            "hourly": {"opens": self.hourly_opens, "clicks": self.hourly_clicks},
        }


def campaign_report(session: Session, account_id: int, key: str, *, now: datetime
                    ) -> CampaignReport | None:
    """The report of the account's started campaign `key`; None when it never started."""
    run = session.scalar(select(CampaignRun).where(CampaignRun.account_id == account_id,
                                                   CampaignRun.key == key))
    if run is None:
        return None
    status = campaign_status(session, account_id, key, defined={}, now=now)
    assert status is not None  # the row is there
    variants = _per_variant(session, run.id)
    opens, clicks = _hourly(session, run.id, run.started_at)
    return CampaignReport(
        campaign_id=run.id, key=run.key, name=run.name, state=run.state, started_at=run.started_at,
        funnel=_total(variants.values()), skipped=status.skipped,
        # The status counts bounces as failed; the funnel has them on a line of their own.
        failed=status.failed - sum(e.bounced for e in variants.values()), variants=variants,
        links=_links(session, run.id), hourly_opens=opens, hourly_clicks=clicks,
    )


def _flag(kind: str, *, machine: bool) -> ColumnElement[int]:
    return func.max(case((and_(EngagementEvent.kind == kind,
                               EngagementEvent.machine.is_(machine)), 1), else_=0))


def _per_message(campaign_id: int) -> Any:
    """Per ledger row of the campaign: whether a person / a machine opened, clicked,
    unsubscribed (1 or 0)."""
    return (
        select(EngagementEvent.message_id.label("message_id"),
               _flag("open", machine=False).label("opened"),
               _flag("open", machine=True).label("opened_machine"),
               _flag("click", machine=False).label("clicked"),
               _flag("click", machine=True).label("clicked_machine"),
               func.max(case((EngagementEvent.kind == "unsubscribe", 1), else_=0))
               .label("unsubscribed"))
        .join(Message, Message.id == EngagementEvent.message_id)
        .where(Message.campaign_id == campaign_id)
        .group_by(EngagementEvent.message_id)
        .subquery()
    )


def _per_variant(session: Session, campaign_id: int) -> dict[str, Engagement]:
    engaged = _per_message(campaign_id)

    def total(column: ColumnElement[Any]) -> ColumnElement[int]:
        return func.coalesce(func.sum(column), 0)

    rows = session.execute(
        select(
            CampaignRecipient.variant,
            func.count(),
            total(case((Message.status.in_(ANSWERED), 1), else_=0)),
            total(case((Message.status == "bounced", 1), else_=0)),
            total(engaged.c.opened),
            total(case((and_(engaged.c.opened_machine == 1, engaged.c.opened == 0), 1),
                       else_=0)),
            total(engaged.c.clicked),
            total(case((and_(engaged.c.clicked_machine == 1, engaged.c.clicked == 0), 1),
                       else_=0)),
            total(engaged.c.unsubscribed),
        )
        .select_from(CampaignRecipient)
        .outerjoin(Message, and_(Message.campaign_id == CampaignRecipient.campaign_id,
                                 Message.contact_id == CampaignRecipient.contact_id))
        .outerjoin(engaged, engaged.c.message_id == Message.id)
        .where(CampaignRecipient.campaign_id == campaign_id)
        # By the column itself: PostgreSQL takes a COALESCE with a bound literal in SELECT
        # and GROUP BY for two different expressions.
        .group_by(CampaignRecipient.variant)
    )
    return {name or NO_VARIANT: Engagement(*map(int, figures)) for name, *figures in rows}


def _total(parts: Iterable[Engagement]) -> Engagement:
    """The variants added up (each recipient is in one)."""
    totals = [sum(values) for values in zip(*map(astuple, parts), strict=True)]
    return Engagement(*totals) if totals else Engagement()


def _links(session: Session, campaign_id: int) -> list[LinkClicks]:
    """Every link of each template the campaign sent (from one of its emails), with its
    clicks by position; a link nobody clicked is there with zeros."""
    human = EngagementEvent.machine.is_(False)
    counted = {
        (template, link): (int(clickers), int(clicks), int(machine))
        for template, link, clickers, clicks, machine in session.execute(
            select(Message.template, EngagementEvent.link,
                   func.count(func.distinct(case((human, EngagementEvent.contact_id)))),
                   func.coalesce(func.sum(case((human, 1), else_=0)), 0),
                   func.coalesce(func.sum(case((human, 0), else_=1)), 0))
            .join(Message, Message.id == EngagementEvent.message_id)
            .where(Message.campaign_id == campaign_id, EngagementEvent.kind == "click")
            .group_by(Message.template, EngagementEvent.link))
    }
    sample_ids = select(func.min(Message.id)).where(
        Message.campaign_id == campaign_id, Message.status.in_(ANSWERED)
    ).group_by(Message.template)
    links: list[LinkClicks] = []
    for template, urls in session.execute(
            select(Message.template, Message.links).where(Message.id.in_(sample_ids))
            .order_by(Message.template)):
        for position, url in enumerate(urls):
            clickers, clicks, machine = counted.get((template, position), (0, 0, 0))
            links.append(LinkClicks(template, position, str(url), clickers, clicks, machine))
    return links


def _hourly(session: Session, campaign_id: int, started_at: datetime | None
            ) -> tuple[list[int], list[int]]:
    """People's opens and clicks per hour of the first `CURVE_HOURS` after the start: one
    query, a sum per bucket and kind (portable: no dialect's date arithmetic)."""
    if started_at is None:
        return [0] * CURVE_HOURS, [0] * CURVE_HOURS
    edges = [started_at + timedelta(hours=n) for n in range(CURVE_HOURS + 1)]

    def bucket(kind: str, hour: int) -> ColumnElement[int]:
        inside = and_(EngagementEvent.kind == kind,
                      EngagementEvent.occurred_at >= edges[hour],
                      EngagementEvent.occurred_at < edges[hour + 1])
        return func.coalesce(func.sum(case((inside, 1), else_=0)), 0)

    row = session.execute(
        select(*(bucket(kind, hour) for kind in ("open", "click")
                 for hour in range(CURVE_HOURS)))
        .join(Message, Message.id == EngagementEvent.message_id)
        .where(Message.campaign_id == campaign_id, EngagementEvent.machine.is_(False),
               EngagementEvent.occurred_at >= edges[0],
               EngagementEvent.occurred_at < edges[-1])
    ).one()
    counts = [int(n) for n in row]
    return counts[:CURVE_HOURS], counts[CURVE_HOURS:]
