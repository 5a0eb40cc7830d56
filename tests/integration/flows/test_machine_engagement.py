"""Human and machine engagement through the real tracking endpoints and the workers: a link
scanner's clicks and Apple's prefetched opens are recorded but flagged, start no flow and
count in no CRM summary; a person's click and open do."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from sqlalchemy import select

from adapters.memory import InMemoryCRM
from connector.clock import VirtualClock
from connector.models import (
    Contact,
    CrmWriteback,
    EngagementEvent,
    Message,
    SegmentMembership,
)
from connector.runtime import Runtime
from connector.services.accounts import AccountView
from tests.integration.flows.test_clicked_follow_up import ORDER, advance, templates_sent
from tests.support.http import post
from tests.support.jobs import work
from tests.support.mail import outbox

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
IPHONE_MAIL = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
               "(KHTML, like Gecko) Mobile/15E148")
APPLE_MPP = "Mozilla/5.0"
NOTEBOOK = "linen-notebook"


def spotlight_sent(rt: Runtime, client: FlaskClient, account: AccountView,
                   clock: VirtualClock) -> EmailMessage:
    """Kate orders; three days later the product spotlight (email A) is delivered."""
    assert post(client, account, ORDER).status_code == 202
    work(rt)
    advance(rt, clock, timedelta(days=3, minutes=1))
    with rt.db.session() as session:
        sent = session.query(Message).filter_by(template="product-spotlight").one()
    (spotlight,) = [m for m in outbox(rt) if m["Message-ID"] == sent.message_id_header]
    return spotlight


def tracked(message: EmailMessage, kind: str) -> list[str]:
    """Paths of the email's open pixel ("o") or tracked links ("c"), in link order."""
    body = message.get_body(("html",))
    assert body is not None
    return [urlsplit(u).path for u in re.findall(r'(?:href|src)="([^"]+)"', body.get_content())
            if f"/t/{kind}/" in u]


def notebook_links(rt: Runtime, message: EmailMessage) -> list[str]:
    """The spotlight's tracked links to the notebook: its title and its button."""
    with rt.db.session() as session:
        row = session.query(Message).filter_by(template="product-spotlight").one()
    links = tracked(message, "c")
    return [links[i] for i, url in enumerate(row.links) if NOTEBOOK in url]


def engagements(rt: Runtime) -> list[tuple[str, str | None]]:
    """(kind, machine reason or None for a person), in the order they came."""
    with rt.db.session() as session:
        rows = session.scalars(select(EngagementEvent).order_by(EngagementEvent.id))
        return [(e.kind, e.machine_reason if e.machine else None) for e in rows]


def writebacks(rt: Runtime, kind: str) -> int:
    with rt.db.session() as session:
        return session.query(CrmWriteback).filter_by(kind=kind).count()


def crm_summary(rt: Runtime) -> tuple[int, int]:
    """(opens, clicks) the CRM was last told for Kate."""
    crm = rt.crm_adapters["hubspot"]
    assert isinstance(crm, InMemoryCRM)
    (summary,) = crm.engagement.values()
    return summary.opens, summary.clicks


def test_a_scanner_burst_on_delivery_starts_no_flow_and_a_later_human_click_does(
    rt: Runtime, client: FlaskClient, account: AccountView, clock: VirtualClock
) -> None:
    spotlight = spotlight_sent(rt, client, account, clock)
    links = tracked(spotlight, "c")
    assert len(links) >= 2

    # A gateway scans the email as it arrives: HEAD then GET on every link, a second in,
    # with a browser's user agent.
    clock.advance(timedelta(seconds=1))
    for link in links:
        assert client.head(link, headers={"User-Agent": CHROME}).status_code == 200
        assert client.get(link, headers={"User-Agent": CHROME}).status_code == 302
    work(rt)
    assert engagements(rt) == [("click", "soon-after-delivery")] * len(links)
    assert writebacks(rt, "email_clicked") == 0
    advance(rt, clock, timedelta(hours=1, minutes=1))
    assert "product-details" not in templates_sent(rt)  # the scanner sent no email B

    # Kate reads it after lunch and clicks the notebook.
    clock.advance(timedelta(minutes=5))
    response = client.get(notebook_links(rt, spotlight)[0], headers={"User-Agent": CHROME})
    assert response.status_code == 302 and NOTEBOOK in response.headers["Location"]
    work(rt)
    assert engagements(rt)[-1] == ("click", None)
    advance(rt, clock, timedelta(hours=1, minutes=1))
    assert templates_sent(rt)[-1] == "product-details"
    advance(rt, clock, timedelta(minutes=2))  # the CRM write-back outbox flushes
    assert crm_summary(rt) == (0, 1)  # her click, none of the scanner's


def test_a_burst_later_on_flags_the_click_that_began_it(
    rt: Runtime, client: FlaskClient, account: AccountView, clock: VirtualClock
) -> None:
    spotlight = spotlight_sent(rt, client, account, clock)
    title, button = notebook_links(rt, spotlight)  # one address, two links

    # Twenty minutes on (past the delivery window), both links half a second apart.
    clock.advance(timedelta(minutes=20))
    assert client.get(title, headers={"User-Agent": CHROME}).status_code == 302
    clock.advance(timedelta(milliseconds=500))
    assert client.get(button, headers={"User-Agent": CHROME}).status_code == 302
    assert engagements(rt) == [("click", "link-burst"), ("click", "link-burst")]
    work(rt)  # the first click's job finds it flagged
    advance(rt, clock, timedelta(hours=1, minutes=1))
    assert "product-details" not in templates_sent(rt)
    with rt.db.session() as session:
        assert session.query(EngagementEvent).filter(
            EngagementEvent.processed_at.is_(None)).count() == 0  # nothing for the sweep


def test_a_person_clicking_one_link_twice_is_no_burst(
    rt: Runtime, client: FlaskClient, account: AccountView, clock: VirtualClock
) -> None:
    spotlight = spotlight_sent(rt, client, account, clock)
    notebook = notebook_links(rt, spotlight)[0]
    clock.advance(timedelta(minutes=20))
    for _ in range(2):  # a double click
        assert client.get(notebook, headers={"User-Agent": CHROME}).status_code == 302
    assert engagements(rt) == [("click", None), ("click", None)]


def test_an_apple_mpp_open_is_flagged_and_a_person_opening_counts(
    rt: Runtime, client: FlaskClient, account: AccountView, clock: VirtualClock
) -> None:
    spotlight = spotlight_sent(rt, client, account, clock)
    (pixel,) = tracked(spotlight, "o")
    with rt.db.session() as session:
        active_before = session.query(Contact).one().last_active_at

    # Apple's relay fetches the pixel on arrival, the person not having looked yet.
    response = client.get(pixel, headers={"User-Agent": APPLE_MPP})
    assert response.status_code == 200 and response.mimetype == "image/gif"
    work(rt)
    assert engagements(rt) == [("open", "apple-mpp")]
    assert writebacks(rt, "email_opened") == 0
    with rt.db.session() as session:
        assert session.query(Contact).one().last_active_at == active_before  # not activity

    # Opened in Apple Mail on a phone without MPP: a person.
    clock.advance(timedelta(hours=2))
    assert client.get(pixel, headers={"User-Agent": IPHONE_MAIL}).status_code == 200
    work(rt)
    assert engagements(rt)[-1] == ("open", None)
    assert writebacks(rt, "email_opened") == 1
    advance(rt, clock, timedelta(minutes=2))
    assert crm_summary(rt) == (1, 0)


def test_machine_engagement_is_no_fact_for_segments(
    rt: Runtime, client: FlaskClient, account: AccountView, clock: VirtualClock
) -> None:
    spotlight = spotlight_sent(rt, client, account, clock)
    (pixel,) = tracked(spotlight, "o")

    def engaged() -> bool:
        with rt.db.session() as session:
            return session.query(SegmentMembership).filter_by(
                segment_key="engaged", left_at=None).count() == 1

    assert client.get(pixel, headers={"User-Agent": APPLE_MPP}).status_code == 200
    clock.advance(timedelta(seconds=1))
    scanned = client.get(tracked(spotlight, "c")[0], headers={"User-Agent": CHROME})
    assert scanned.status_code == 302
    # Her next event re-evaluates her segments from her facts: the machine's are not in them.
    clock.advance(timedelta(minutes=5))
    assert post(client, account, {"contact": {"email": "kate@example.com"},
                                  "event": "product.viewed", "properties": {}}).status_code == 202
    work(rt)
    assert not engaged()

    clock.advance(timedelta(hours=1))
    assert client.get(pixel, headers={"User-Agent": IPHONE_MAIL}).status_code == 200
    work(rt)
    assert engaged()
