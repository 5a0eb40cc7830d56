"""Redis down while an event comes in: the event is stored, so it answers 202 (a 500 would
make the client retry and, without an idempotency key, store it twice); the lost wake-up
is healed by the scheduler's sweep once Redis is back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from redis import Redis

from connector.app import create_app
from connector.clock import VirtualClock
from connector.db import Database
from connector.local.redis_embedded import EmbeddedRedis
from connector.models import InboxEvent, Message
from connector.runtime import Runtime
from connector.scheduler import STALE_AFTER, tick
from connector.services.accounts import AccountView
from connector.settings import Settings
from tests.support.jobs import work

pytestmark = pytest.mark.slow


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(tmp_path / "redis") as server:
        yield server


def test_an_event_stored_while_redis_is_down_answers_202_and_is_processed_later(
    settings: Settings, db: Database, clock: VirtualClock, account: AccountView,
    redis_server: EmbeddedRedis,
) -> None:
    rt = Runtime(settings=settings, db=db, redis=Redis.from_url(redis_server.url), clock=clock)
    client = create_app(rt).test_client()
    redis_server.stop()
    response = client.post(
        "/v1/events",
        json={"contact": {"email": "r@example.com"}, "event": "signed_up"},
        headers={"Authorization": f"Bearer {account.api_key}"},
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    with db.session() as session:
        assert session.query(InboxEvent).filter(InboxEvent.processed_at.is_(None)).count() == 1

    redis_server.start()  # empty: the wake-up is gone; the client reconnects by itself
    clock.advance(STALE_AFTER + timedelta(seconds=1))
    tick(rt, clock.now())
    work(rt)
    with db.session() as session:
        assert session.query(InboxEvent).filter(InboxEvent.processed_at.is_(None)).count() == 0
        assert [m.to_email for m in session.query(Message)] == ["r@example.com"]
