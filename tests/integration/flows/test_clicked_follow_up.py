""""Clicked email A -> send email B" through the real click endpoint, plus the CRM task."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

from flask.testing import FlaskClient

from adapters.memory import InMemoryCRM
from connector.clock import VirtualClock
from connector.models import Message, SegmentMembership
from connector.runtime import Runtime
from connector.scheduler import tick
from connector.services.accounts import AccountView
from tests.support.http import post
from tests.support.jobs import work
from tests.support.mail import outbox

ORDER = {"contact": {"email": "kate@example.com", "properties": {"firstname": "Kate"}},
         "event": "order.completed",
         "properties": {"order_id": "7", "total": "10.00", "items": []}}


def advance(rt: Runtime, clock: VirtualClock, delta: timedelta) -> None:
    clock.advance(delta)
    tick(rt, clock.now())
    work(rt)


def templates_sent(rt: Runtime) -> list[str]:
    with rt.db.session() as session:
        return [m.template for m in session.query(Message).filter_by(status="sent")
                .order_by(Message.id)]


def test_clicking_the_spotlight_link_sends_the_details_and_tells_sales(
    rt: Runtime, client: FlaskClient, account: AccountView, clock: VirtualClock
) -> None:
    assert post(client, account, ORDER).status_code == 202
    work(rt)
    with rt.db.session() as session:
        segment = session.query(SegmentMembership).filter_by(segment_key="customers").one()
    assert segment.left_at is None  # the purchase made her a customer

    advance(rt, clock, timedelta(days=3, minutes=1))
    assert "product-spotlight" in templates_sent(rt)
    assert "product-details" not in templates_sent(rt)

    spotlight = next(m for m in outbox(rt) if "notebook" in m["Subject"].lower()
                     or "linen" in m.get_body(("html",)).get_content().lower())
    html = spotlight.get_body(("html",)).get_content()
    with rt.db.session() as session:
        row = session.query(Message).filter_by(template="product-spotlight").one()
    index = next(i for i, url in enumerate(row.links) if "linen-notebook" in url)
    tracked = [u for u in re.findall(r'href="([^"]+)"', html) if "/t/c/" in u][index]
    clock.advance(timedelta(minutes=1))  # read first: a click as it arrives is a scanner's
    assert client.get(urlsplit(tracked).path).status_code == 302
    work(rt)  # the click is fed to the flows

    advance(rt, clock, timedelta(hours=1, minutes=1))
    assert templates_sent(rt)[-1] == "product-details"
    advance(rt, clock, timedelta(minutes=2))  # the CRM write-back outbox flushes
    crm = rt.crm_adapters["hubspot"]
    assert isinstance(crm, InMemoryCRM)
    assert [t.subject for t in crm.tasks] == ["Hot lead clicked the Linen Notebook spotlight"]
    assert crm.tasks[0].email == "kate@example.com"
