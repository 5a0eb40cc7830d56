"""Edge cases found in review: entries without an inbox event, loops back to a send,
lists from the events API, simulations that must call nobody, flows paused in YAML."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from connector.cli.simulate import SimulatedEvent, simulate
from connector.clock import VirtualClock
from connector.models import EngagementEvent, Enrollment, Message
from connector.runtime import Runtime
from connector.services.accounts import AccountView
from connector.services.flow_status import set_flow_status
from connector.settings import SettingsError, load_settings
from tests.integration.flows.test_tracking_helpers import click_first_link
from tests.support.http import post
from tests.support.jobs import work
from tests.support.receiver import Receiver
from tests.support.workspaces import use_flows


def test_engagement_trigger_with_reentry_always_enrolls_on_each_click(
    rt: Runtime, client: FlaskClient, account: AccountView, tmp_path: Path,
    clock: VirtualClock,
) -> None:
    use_flows(rt, account.id, tmp_path, hello="""
name: Hello
trigger: {type: contact.created}
steps: [{id: hi, send: getting-started}]
""", again="""
name: Clicked again
trigger: {type: engagement, action: clicked, template: getting-started}
settings: {reentry: always}
steps: [{id: more, send: first-offer}]
""")
    post(client, account, {"contact": {"email": "e@example.com"}, "event": "signed_up"})
    work(rt)
    clock.advance(timedelta(minutes=1))  # read first: a click as it arrives is a scanner's
    click_first_link(rt, client, "getting-started")
    clock.advance(timedelta(minutes=5))
    click_first_link(rt, client, "getting-started")
    with rt.db.session() as session:
        assert session.query(Enrollment).filter_by(flow_key="again").count() == 2
        assert session.query(EngagementEvent).filter(
            EngagementEvent.processed_at.is_(None)).count() == 0


# A goto back to a send and a waitless loop: tests/integration/flows/test_run_loop.py.


def test_lists_from_the_events_api_feed_in_list_rules(
    rt: Runtime, client: FlaskClient, account: AccountView, tmp_path: Path
) -> None:
    use_flows(rt, account.id, tmp_path, news="""
name: Newsletter welcome
trigger: {type: event, event: signed_up, if: {in_list: newsletter}}
steps: [{id: hi, send: welcome}]
""")
    post(client, account, {"contact": {"email": "n@example.com", "lists": ["newsletter"]},
                           "event": "signed_up"})
    post(client, account, {"contact": {"email": "o@example.com"}, "event": "signed_up"})
    work(rt)
    with rt.db.session() as session:
        assert [m.to_email for m in session.query(Message)] == ["n@example.com"]


def test_bad_list_names_are_422(client: FlaskClient, account: AccountView) -> None:
    response = client.post("/v1/events", json={
        "contact": {"email": "n@example.com", "lists": ["Not A Key!"]}, "event": "signed_up"},
        headers={"Authorization": f"Bearer {account.api_key}"})
    assert response.status_code == 422
    assert response.get_json()["details"][0]["field"] == "contact.lists.0"


def test_simulation_posts_no_webhooks(settings: object, tmp_path: Path, receiver: str) -> None:
    flow = tmp_path / "hook.yaml"
    flow.write_text(f"""
name: Hook
trigger: {{type: event, event: go}}
steps: [{{id: call, webhook: {{url: "{receiver}"}}}}]
""")
    start = datetime(2026, 1, 5, tzinfo=UTC)
    timeline = simulate(settings, flow, {"email": "s@example.com"},  # type: ignore[arg-type]
                        [SimulatedEvent("go", start)], start=start, days=1)
    assert [e.action for e in timeline] == ["webhook", "complete"]
    assert Receiver.received == []


def test_flow_paused_in_yaml_and_resumed_by_an_operator_takes_entries(
    rt: Runtime, client: FlaskClient, account: AccountView, tmp_path: Path
) -> None:
    use_flows(rt, account.id, tmp_path, held="""
name: Held
trigger: {type: event, event: signed_up}
settings: {status: paused}
steps: [{id: hi, send: welcome}]
""")
    post(client, account, {"contact": {"email": "p@example.com"}, "event": "signed_up"})
    work(rt)
    with rt.db.session() as session:
        assert session.query(Enrollment).count() == 0
        flows = rt.workspaces.live(session, account.id).flows
        set_flow_status(session, flows, "held", "active", rt.clock.now())
    post(client, account, {"contact": {"email": "q@example.com"}, "event": "signed_up"})
    work(rt)
    with rt.db.session() as session:
        assert [m.to_email for m in session.query(Message)] == ["q@example.com"]


@pytest.mark.parametrize("value", ["0/7d", "3/7days", "3/0d", "three/7d"])
def test_a_bad_frequency_cap_stops_start_up_naming_the_variable(value: str,
                                                                tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="FREQUENCY_CAP"):
        load_settings(FREQUENCY_CAP=value, VAR_DIR=tmp_path)


def test_refresh_schedules_existing_contacts_for_a_new_date_flow(
    rt: Runtime, client: FlaskClient, account: AccountView, tmp_path: Path,
    clock: VirtualClock,
) -> None:
    from connector.models import ScheduledTrigger
    from connector.services.schedules import refresh_contacts

    post(client, account, {"contact": {"email": "old@example.com",
                                       "properties": {"customer_since": "2020-01-20"}},
                           "event": "contact.updated"})
    work(rt)
    use_flows(rt, account.id, tmp_path, yearly="""
name: Yearly
trigger: {type: date, property: customer_since, yearly: true}
settings: {reentry: always}
steps: [{id: hi, send: customer-anniversary}]
""")
    with rt.db.session() as session:  # nothing has happened to her since the flow came
        assert session.query(ScheduledTrigger).filter_by(flow_key="yearly").count() == 0
    assert len(refresh_contacts(rt, clock.now())) == 1
    with rt.db.session() as session:
        row = session.query(ScheduledTrigger).filter_by(flow_key="yearly").one()
    assert (row.flow_key, row.fire_at.date().isoformat()) == ("yearly", "2026-01-20")


def test_one_broken_enrollment_does_not_hold_back_its_chunk(
    rt: Runtime, client: FlaskClient, account: AccountView, clock: VirtualClock
) -> None:
    from connector.models import FlowVersion
    from connector.scheduler import tick

    for name in ("a", "b", "c"):
        post(client, account, {"contact": {"email": f"{name}@example.com"}, "event": "x"})
    work(rt)
    with rt.db.session() as session:
        broken = FlowVersion(account_id=account.id, flow_key="welcome", version="broken",
                             definition={"format": 99},
                             created_at=clock.now())
        session.add(broken)
        session.flush()
        first = session.query(Enrollment).filter_by(flow_key="welcome").order_by(Enrollment.id)
        first.first().flow_version_id = broken.id  # type: ignore[union-attr]
    clock.advance(timedelta(days=2, minutes=1))
    tick(rt, clock.now())
    work(rt)
    with rt.db.session() as session:
        sent = sorted(m.to_email for m in session.query(Message)
                      .filter_by(template="getting-started"))
    assert sent == ["b@example.com", "c@example.com"]  # the others went on
