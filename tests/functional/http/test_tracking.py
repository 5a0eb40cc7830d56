"""Open pixel, click redirect and unsubscribe through the real endpoints."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

from flask.testing import FlaskClient

from connector.local.inprocess import BurstWorker
from connector.models import CrmWriteback, EngagementEvent, Enrollment, Message, Suppression
from connector.runtime import Runtime
from connector.scheduler import tick
from connector.services.accounts import AccountView
from connector.tokens import TrackingToken
from tests.support.http import post
from tests.support.jobs import work
from tests.support.mail import outbox

SIGNUP = {
    "contact": {"email": "ada@example.com", "properties": {"firstname": "Ada"}},
    "event": "signed_up",
}


def path(url: str) -> str:
    return urlsplit(url).path


def first_email(rt: Runtime, client: FlaskClient, account: AccountView):  # type: ignore[no-untyped-def]
    assert post(client, account, SIGNUP).status_code == 202
    work(rt)
    (message,) = outbox(rt)
    html = message.get_body(("html",)).get_content()
    return message, re.findall(r'(?:href|src)="([^"]+)"', html)


def kinds(rt: Runtime) -> list[str]:
    with rt.db.session() as session:
        return sorted(e.kind for e in session.query(EngagementEvent))


def test_open_pixel_records_one_open_and_one_writeback(
    rt: Runtime, client: FlaskClient, account: AccountView
) -> None:
    _, urls = first_email(rt, client, account)
    pixel = next(u for u in urls if "/t/o/" in u)
    for _ in range(2):
        response = client.get(path(pixel))
        assert response.status_code == 200
        assert response.mimetype == "image/gif"
    assert kinds(rt) == ["open", "open"]
    with rt.db.session() as session:
        opened = session.query(CrmWriteback).filter_by(kind="email_opened").count()
    assert opened == 1  # reps see "opened", not every re-open


def test_click_redirects_to_the_link_that_was_in_the_email(
    rt: Runtime, client: FlaskClient, account: AccountView
) -> None:
    _, urls = first_email(rt, client, account)
    tracked = [u for u in urls if "/t/c/" in u]
    assert tracked, "the welcome email has tracked links"
    with rt.db.session() as session:
        links = session.query(Message).one().links
    response = client.get(path(tracked[0]))
    assert response.status_code == 302
    assert response.headers["Location"] == links[0]
    assert kinds(rt) == ["click"]


def test_forged_or_foreign_tokens_never_redirect(
    rt: Runtime, client: FlaskClient, account: AccountView
) -> None:
    _, urls = first_email(rt, client, account)
    token = path(next(u for u in urls if "/t/c/" in u)).rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert client.get(f"/t/c/{tampered}").status_code == 404
    # A validly signed token for a link index the email never had: no open redirect.
    with rt.db.session() as session:
        public_id = session.query(Message).one().public_id
    beyond = rt.signer.dumps(TrackingToken("click", public_id, 999))
    assert client.get(f"/t/c/{beyond}").status_code == 404
    # An open token is not a click token.
    open_token = rt.signer.dumps(TrackingToken("open", public_id, 0))
    assert client.get(f"/t/c/{open_token}").status_code == 404
    assert kinds(rt) == []


def test_tokens_reveal_no_ids(rt: Runtime, client: FlaskClient, account: AccountView) -> None:
    message, urls = first_email(rt, client, account)
    with rt.db.session() as session:
        row = session.query(Message).one()
    for url in [*urls, str(message["List-Unsubscribe"])]:
        assert f"/{row.id}" not in url and row.public_id not in url


def test_unsubscribe_get_only_asks_and_one_click_post_suppresses(
    rt: Runtime, client: FlaskClient, account: AccountView, clock
) -> None:
    message, _ = first_email(rt, client, account)
    url = path(str(message["List-Unsubscribe"]).strip().strip("<>"))
    page = client.get(url)
    assert page.status_code == 200 and b"<form" in page.data
    assert kinds(rt) == []
    response = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert kinds(rt) == ["unsubscribe"]
    with rt.db.session() as session:
        assert session.query(Suppression).one().email == "ada@example.com"
    # The next step of the welcome series is not sent: the enrollment exits.
    clock.advance(timedelta(days=3))
    tick(rt, clock.now())
    work(rt)
    assert len(outbox(rt)) == 1
    with rt.db.session() as session:
        enrollment = session.query(Enrollment).one()
    assert (enrollment.state, enrollment.exit_reason) == ("exited", "unsubscribed")


def test_suppression_is_checked_right_before_the_send(
    rt: Runtime, client: FlaskClient, account: AccountView
) -> None:
    # The ledger row exists (enrollment advanced) but the recipient unsubscribes
    # before the send job runs: the message is not sent.
    assert post(client, account, SIGNUP).status_code == 202
    BurstWorker([rt.queues["events"]], connection=rt.redis).work(burst=True)
    from connector.services.suppressions import suppress

    with rt.db.session() as session:
        suppress(session, account.id, "ada@example.com", "unsubscribed", rt.clock.now())
    work(rt)
    assert outbox(rt) == []
    with rt.db.session() as session:
        assert session.query(Message).one().status == "suppressed"
