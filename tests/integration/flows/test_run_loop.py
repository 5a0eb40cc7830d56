"""The services drive the engine's one run loop: a loop without a wait ends after one
turn, with the journal showing each decision once and the exit on the looping step."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient

from connector.engine.run import EXIT_LOOP
from connector.models import Contact, CrmWriteback, Enrollment, EnrollmentJournal, Message
from connector.runtime import Runtime
from connector.services.accounts import AccountView
from tests.support.http import post
from tests.support.jobs import work
from tests.support.workspaces import use_flows


def journal(rt: Runtime) -> list[tuple[str | None, str]]:
    with rt.db.session() as session:
        rows = session.query(EnrollmentJournal).order_by(EnrollmentJournal.id)
        return [(row.step_id, row.action) for row in rows]


def test_a_goto_back_to_a_send_journals_one_skip_and_exits_on_the_goto(
    rt: Runtime, client: FlaskClient, account: AccountView, tmp_path: Path
) -> None:
    use_flows(rt, account.id, tmp_path, lint=False, loop="""
name: Loop
trigger: {type: event, event: loop.me}
steps:
  - {id: mail, send: welcome}
  - {id: again, goto: mail}
""")
    post(client, account, {"contact": {"email": "l@example.com"}, "event": "loop.me"})
    work(rt)
    assert journal(rt) == [
        ("mail", "send"),
        ("again", "jump"),
        ("mail", "send"),
        ("mail", "skip"),
        ("again", "exit"),
    ]
    with rt.db.session() as session:
        assert session.query(Message).count() == 1
        enrollment = session.query(Enrollment).one()
    assert (enrollment.state, enrollment.exit_reason) == ("exited", EXIT_LOOP)


def test_a_property_flipped_back_and_forth_stops_after_one_turn(
    rt: Runtime, client: FlaskClient, account: AccountView, tmp_path: Path
) -> None:
    use_flows(rt, account.id, tmp_path, lint=False, flip="""
name: Flip
trigger: {type: event, event: flip.me}
steps:
  - {id: set-on, update_property: {property: flag, value: "on"}}
  - {id: set-off, update_property: {property: flag, value: "off"}}
  - {id: again, goto: set-on}
""")
    post(client, account, {"contact": {"email": "f@example.com"}, "event": "flip.me"})
    work(rt)
    assert journal(rt) == [
        ("set-on", "update_property"),
        ("set-off", "update_property"),
        ("again", "jump"),
        ("set-on", "update_property"),
        ("set-off", "exit"),
    ]
    with rt.db.session() as session:
        enrollment = session.query(Enrollment).one()
        contact = session.query(Contact).one()
        assert session.query(CrmWriteback).count() == 2  # one per step, deduplicated
    assert (enrollment.state, enrollment.exit_reason) == ("exited", EXIT_LOOP)
    assert contact.properties["flag"] == "on"
