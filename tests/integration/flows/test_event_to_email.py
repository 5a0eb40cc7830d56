"""Event in, email out: the loop through the real endpoint, RQ worker, engine and outbox."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient

from connector.models import Enrollment, Message
from connector.runtime import Runtime
from connector.services.accounts import AccountView
from tests.support.http import post
from tests.support.jobs import work
from tests.support.mail import outbox

ORDER = {
    "contact": {"email": "Alan@Example.com", "properties": {"firstname": "Alan"}},
    "event": "order.completed",
    "properties": {
        "order_id": "1001",
        "total": "59.00",
        "items": [{"name": "Desk", "quantity": 1, "price": "59.00"}],
    },
    "idempotency_key": "order-1001",
}


def test_order_event_sends_welcome_and_thanks_now_and_survey_next_day(
    rt: Runtime, client: FlaskClient, account: AccountView, clock
) -> None:
    assert post(client, account, ORDER).status_code == 202
    work(rt)
    subjects = sorted(m["Subject"] for m in outbox(rt))
    assert len(subjects) == 2  # welcome (new contact) + order thanks
    thanks = next(m for m in outbox(rt) if "1001" in m.get_body(("html",)).get_content())
    assert thanks["To"] == "alan@example.com"
    assert thanks["List-Unsubscribe"].strip().startswith("<https://drip.example.com/u/")
    assert thanks["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    clock.advance(timedelta(hours=23))
    from connector.scheduler import tick

    tick(rt, clock.now())
    work(rt)
    assert len(outbox(rt)) == 2
    clock.advance(timedelta(hours=1, minutes=1))
    tick(rt, clock.now())
    work(rt)
    assert len(outbox(rt)) == 3  # the survey, a day later


def test_same_event_twice_with_one_idempotency_key_sends_once(
    rt: Runtime, client: FlaskClient, account: AccountView
) -> None:
    first = post(client, account, ORDER)
    second = post(client, account, ORDER)
    assert first.get_json() == {"status": "accepted", "duplicate": False}
    assert second.get_json() == {"status": "accepted", "duplicate": True}
    work(rt)
    with rt.db.session() as session:
        sends = session.query(Message).filter_by(template="order-thanks").count()
        enrollments = session.query(Enrollment).filter_by(flow_key="post-purchase").count()
    assert (sends, enrollments) == (1, 1)
    assert (
        len(
            [
                m
                for m in outbox(rt)
                if "1001" in m["Subject"] or "1001" in m.get_body(("html",)).get_content()
            ]
        )
        == 1
    )
