"""Pause, resume, archive and versioning of flows, through the services and scheduler."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

from flask.testing import FlaskClient

from connector.clock import VirtualClock
from connector.models import Enrollment, EnrollmentJournal, Message
from connector.runtime import Runtime
from connector.scheduler import tick
from connector.services.accounts import AccountView
from connector.services.flow_status import set_flow_status
from tests.support.http import post
from tests.support.jobs import work
from tests.support.workspaces import deploy

SIGNUP = {"contact": {"email": "p@example.com"}, "event": "signed_up"}


def set_status(rt: Runtime, account: AccountView, key: str, status: str) -> None:
    with rt.db.session() as session:
        flows = rt.workspaces.live(session, account.id).flows
        set_flow_status(session, flows, key, status, rt.clock.now())


def advance(rt: Runtime, clock: VirtualClock, delta: timedelta) -> None:
    clock.advance(delta)
    tick(rt, clock.now())
    work(rt)


def welcome(rt: Runtime) -> Enrollment:
    with rt.db.session() as session:
        return session.query(Enrollment).filter_by(flow_key="welcome").one()


def sent(rt: Runtime) -> list[str]:
    with rt.db.session() as session:
        return [m.template for m in session.query(Message).order_by(Message.id)]


def test_paused_flow_takes_no_entries(rt: Runtime, client: FlaskClient,
                                      account: AccountView) -> None:
    set_status(rt, account, "welcome", "paused")
    post(client, account, SIGNUP)
    work(rt)
    with rt.db.session() as session:
        assert session.query(Enrollment).filter_by(flow_key="welcome").count() == 0


def test_pause_holds_waiting_contacts_and_resume_carries_on(
    rt: Runtime, client: FlaskClient, account: AccountView, clock: VirtualClock
) -> None:
    post(client, account, SIGNUP)
    work(rt)
    assert sent(rt) == ["welcome"]
    set_status(rt, account, "welcome", "paused")
    advance(rt, clock, timedelta(days=3))
    assert sent(rt) == ["welcome"]  # held: the getting-started email waits
    assert welcome(rt).next_run_at is None and welcome(rt).state == "active"
    set_status(rt, account, "welcome", "active")
    advance(rt, clock, timedelta(seconds=1))
    assert sent(rt) == ["welcome", "getting-started"]


def test_archive_exits_everyone(rt: Runtime, client: FlaskClient, account: AccountView,
                                clock: VirtualClock) -> None:
    post(client, account, SIGNUP)
    work(rt)
    set_status(rt, account, "welcome", "archived")
    advance(rt, clock, timedelta(seconds=1))
    assert (welcome(rt).state, welcome(rt).exit_reason) == ("exited", "flow archived")


def test_new_version_takes_over_by_step_id(rt: Runtime, client: FlaskClient,
                                           account: AccountView, clock: VirtualClock,
                                           tmp_path: Path) -> None:
    post(client, account, SIGNUP)
    work(rt)
    started_on = welcome(rt).flow_version_id
    flows = tmp_path / "flows"
    shutil.copytree(Path(rt.settings.flows_dir), flows)
    text = (flows / "welcome.yaml").read_text()
    # The marketer swaps the offer email; the step ids before it are unchanged.
    (flows / "welcome.yaml").write_text(text.replace("send: first-offer", "send: winback-offer"))
    deploy(rt, account.id, flows=flows)
    advance(rt, clock, timedelta(days=2, minutes=1))
    advance(rt, clock, timedelta(days=3, minutes=1))
    assert sent(rt) == ["welcome", "getting-started", "winback-offer"]
    assert welcome(rt).flow_version_id != started_on
    with rt.db.session() as session:
        assert session.query(EnrollmentJournal).filter_by(action="migrate").count() == 1


def test_enrollment_keeps_its_version_when_its_step_is_gone(
    rt: Runtime, client: FlaskClient, account: AccountView, clock: VirtualClock,
    tmp_path: Path,
) -> None:
    post(client, account, SIGNUP)
    work(rt)
    started_on = welcome(rt).flow_version_id
    flows = tmp_path / "flows"
    shutil.copytree(Path(rt.settings.flows_dir), flows)
    (flows / "welcome.yaml").write_text(
        "name: Welcome v2\ntrigger: {type: contact.created}\n"
        "steps:\n  - {id: hello-again, send: welcome}\n")
    deploy(rt, account.id, flows=flows)
    advance(rt, clock, timedelta(days=2, minutes=1))
    assert sent(rt) == ["welcome", "getting-started"]  # still the version it began on
    assert welcome(rt).flow_version_id == started_on
