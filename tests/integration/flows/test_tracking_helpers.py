"""Clicking through the real click endpoint in tests."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask.testing import FlaskClient

from connector.models import Message
from connector.runtime import Runtime
from tests.support.jobs import work
from tests.support.mail import outbox


def click_first_link(rt: Runtime, client: FlaskClient, template: str) -> None:
    """Click the first tracked link of the newest `template` email, then run the jobs."""
    with rt.db.session() as session:
        row = (session.query(Message).filter_by(template=template, status="sent")
               .order_by(Message.id.desc()).first())
    assert row is not None, f"no {template} email was sent"
    email = next(m for m in outbox(rt) if m["Message-ID"] == row.message_id_header)
    html = email.get_body(("html",)).get_content()
    tracked = [u for u in re.findall(r'href="([^"]+)"', html) if "/t/c/" in u]
    assert client.get(urlsplit(tracked[0]).path).status_code == 302
    work(rt)
