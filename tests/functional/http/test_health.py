"""/healthz, /readyz and /metrics."""

from __future__ import annotations

from flask.testing import FlaskClient

from connector.runtime import Runtime
from connector.services.accounts import AccountView
from tests.support.http import post
from tests.support.jobs import work


def test_healthz(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_checks_database_and_redis(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_readyz_is_503_when_redis_is_unreachable(rt: Runtime, client: FlaskClient) -> None:
    from redis import Redis

    rt.redis = Redis.from_url("unix:///nonexistent/redis.sock")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["redis"].startswith("error")


def test_metrics_report_queues_and_ledger_in_prometheus_text(
    rt: Runtime, client: FlaskClient, account: AccountView
) -> None:
    post(client, account, {"contact": {"email": "m@example.com"}, "event": "signed_up"})
    before = client.get("/metrics").get_data(as_text=True)
    assert 'connector_queue_jobs{queue="events"} 1.0' in before
    assert "connector_inbox_backlog 1.0" in before
    work(rt)
    after = client.get("/metrics").get_data(as_text=True)
    assert 'connector_messages{status="sent"} 1.0' in after
    assert 'connector_enrollments{state="active"} 1.0' in after
    assert "connector_inbox_backlog 0.0" in after
