"""Workspaces through the real services: each account runs its own deployed definitions,
sender and footer; a deploy is all or nothing, versioned, and a dry run changes nothing."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from connector.clock import VirtualClock
from connector.models import Account, Enrollment, Message, WorkspaceVersion
from connector.runtime import Runtime
from connector.scheduler import tick
from connector.services.accounts import set_identity
from connector.services.flow_status import set_flow_status
from connector.workspaces import WorkspaceError, deploy_files, read_folder
from tests.conftest import MakeAccount
from tests.support.http import post
from tests.support.jobs import work
from tests.support.mail import outbox
from tests.support.workspaces import copy_of_repo_workspace, deploy

PING = """
name: Ping
trigger: {type: event, event: ping}
steps:
  - {id: pong, send: welcome}
"""


def enrolled(rt: Runtime, account_id: int, flow_key: str) -> int:
    with rt.db.session() as session:
        return session.scalar(
            select(func.count())
            .select_from(Enrollment)
            .where(Enrollment.account_id == account_id, Enrollment.flow_key == flow_key)
        ) or 0


def live_version(rt: Runtime, account_id: int) -> int | None:
    with rt.db.session() as session:
        return session.get_one(Account, account_id).workspace_version


def test_two_accounts_run_their_own_workspaces_senders_and_footers(
    rt: Runtime, client: FlaskClient, make_account: MakeAccount, tmp_path: Path
) -> None:
    a, b = make_account("1", name="Acme"), make_account("2", name="Bolt")
    workspace = copy_of_repo_workspace(tmp_path / "acme")
    (workspace / "flows" / "ping.yaml").write_text(PING)
    deploy(rt, a.id, flows=workspace / "flows")
    with rt.db.session() as session:
        set_identity(session, rt.vault, a.id, mail_from="Acme <hi@acme.example>",
                     reply_to="help@acme.example", company_name="Acme Mugs",
                     company_address="1 Acme Way, Springfield")
        set_identity(session, rt.vault, b.id, mail_from="Bolt <hi@bolt.example>",
                     company_name="Bolt Bikes", company_address="2 Bolt Road, Shelbyville")

    post(client, b, {"contact": {"email": "bea@example.com"}, "event": "ping"})
    work(rt)
    assert enrolled(rt, b.id, "ping") == 0  # deployed to A only
    post(client, a, {"contact": {"email": "ann@example.com"}, "event": "ping"})
    work(rt)
    assert enrolled(rt, a.id, "ping") == 1

    by_recipient = {m["To"]: m for m in outbox(rt) if m["Subject"].startswith("Welcome")}
    ann, bea = by_recipient["ann@example.com"], by_recipient["bea@example.com"]
    assert (ann["From"], ann["Reply-To"]) == ("Acme <hi@acme.example>", "help@acme.example")
    assert (bea["From"], bea["Reply-To"]) == ("Bolt <hi@bolt.example>", None)
    ann_text = ann.get_body(("plain",)).get_content()
    bea_text = bea.get_body(("plain",)).get_content()
    assert "Acme Mugs, 1 Acme Way, Springfield" in ann_text and "Bolt" not in ann_text
    assert "Bolt Bikes, 2 Bolt Road, Shelbyville" in bea_text and "Acme" not in bea_text


def test_one_accounts_pause_does_not_touch_another(
    rt: Runtime, client: FlaskClient, make_account: MakeAccount
) -> None:
    a, b = make_account("1"), make_account("2")
    with rt.db.session() as session:
        set_flow_status(session, rt.workspaces.live(session, a.id).flows, "welcome", "paused",
                        rt.clock.now())
    for account, email in ((a, "ann@example.com"), (b, "bea@example.com")):
        post(client, account, {"contact": {"email": email}, "event": "signed_up"})
    work(rt)
    assert (enrolled(rt, a.id, "welcome"), enrolled(rt, b.id, "welcome")) == (0, 1)


def test_a_dry_run_names_every_change_and_changes_nothing(
    rt: Runtime, client: FlaskClient, make_account: MakeAccount, tmp_path: Path
) -> None:
    account = make_account()
    post(client, account, {"contact": {"email": "ann@example.com"}, "event": "signed_up"})
    work(rt)  # Ann waits in the welcome series
    before = live_version(rt, account.id)
    workspace = copy_of_repo_workspace(tmp_path / "ws")
    welcome = workspace / "flows" / "welcome.yaml"
    welcome.write_text(welcome.read_text().replace("send: first-offer", "send: winback-offer"))
    (workspace / "flows" / "ping.yaml").write_text(PING)
    (workspace / "flows" / "win-back.yaml").unlink()
    subject = workspace / "templates" / "welcome" / "subject.txt"
    subject.write_text("Hello {{ contact.firstname }}")
    (workspace / "segments" / "vip.yaml").unlink()
    spring = workspace / "campaigns" / "spring-sale.yaml"  # it excluded the VIPs
    spring.write_text(spring.read_text().replace("  exclude:\n    - segment: vip\n", ""))
    (workspace / "flows" / "properties.txt").write_text("firstname\n")  # keeps lints quiet

    report = deploy_files(rt.db, rt.settings, account.id, read_folder(workspace),
                          now=rt.clock.now(), dry_run=True)

    assert (report.flows.added, report.flows.changed) == (["ping"], ["welcome"])
    assert report.flows.removed == ["win-back"]
    assert report.templates.changed == ["welcome"] and report.segments.removed == ["vip"]
    assert report.migrating == {"welcome": 1} and report.exiting == {}
    assert report.version == (before or 0) + 1 and report.dry_run
    assert "~ flow welcome" in report.lines() and "- flow win-back" in report.lines()
    assert live_version(rt, account.id) == before
    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(WorkspaceVersion)) == 1


def test_a_broken_folder_is_refused_whole_with_file_and_line(
    rt: Runtime, client: FlaskClient, make_account: MakeAccount, tmp_path: Path
) -> None:
    account = make_account()
    before = live_version(rt, account.id)
    workspace = copy_of_repo_workspace(tmp_path / "ws")
    (workspace / "flows" / "ping.yaml").write_text(PING)  # fine on its own
    (workspace / "flows" / "broken.yaml").write_text(
        "name: Broken\ntrigger: {type: event, event: x}\nsteps:\n  - {id: a, sned: welcome}\n"
    )
    (workspace / "flows" / "missing.yaml").write_text(
        "name: Missing\ntrigger: {type: event, event: y}\nsteps:\n  - {id: a, send: nope}\n"
    )
    (workspace / "templates" / "welcome" / "subject.txt").write_text("Hi {{ contact.name ")

    with pytest.raises(WorkspaceError) as refused:
        deploy(rt, account.id, flows=workspace / "flows", templates=workspace / "templates")

    errors = refused.value.errors
    assert any(e.startswith("flows/broken.yaml:4: ") for e in errors), errors
    assert any(e.startswith("templates/welcome/subject.txt:1: syntax error") for e in errors)
    assert live_version(rt, account.id) == before
    # Schema errors stop before the lints; fixed, the missing template is the next error.
    (workspace / "flows" / "broken.yaml").unlink()
    shutil.copy(Path(rt.settings.templates_dir) / "welcome" / "subject.txt",
                workspace / "templates" / "welcome" / "subject.txt")
    with pytest.raises(WorkspaceError) as refused:
        deploy(rt, account.id, flows=workspace / "flows", templates=workspace / "templates")
    assert any(e.startswith("flows/missing.yaml:4: error:") and "nope" in e
               for e in refused.value.errors), refused.value.errors
    assert live_version(rt, account.id) == before
    post(client, account, {"contact": {"email": "ann@example.com"}, "event": "ping"})
    work(rt)
    assert enrolled(rt, account.id, "ping") == 0  # nothing of the refused folder runs


def test_versions_are_kept_and_an_unchanged_deploy_makes_none(
    rt: Runtime, make_account: MakeAccount, tmp_path: Path
) -> None:
    account = make_account()
    again = deploy(rt, account.id)
    assert again.unchanged and again.version == 1
    workspace = copy_of_repo_workspace(tmp_path / "ws")
    (workspace / "flows" / "ping.yaml").write_text(PING)
    assert deploy(rt, account.id, flows=workspace / "flows").version == 2
    with rt.db.session() as session:
        versions = session.scalars(
            select(WorkspaceVersion.version).where(WorkspaceVersion.account_id == account.id)
        ).all()
        first = rt.workspaces.live(session, account.id)
        assert rt.workspaces.live(session, account.id).workspace is first.workspace  # reused
    assert sorted(versions) == [1, 2] and "ping" in first.workspace.flows


def test_contacts_of_a_removed_flow_exit_at_once_not_at_their_next_step(
    rt: Runtime, client: FlaskClient, make_account: MakeAccount, tmp_path: Path,
    clock: VirtualClock,
) -> None:
    account = make_account()
    post(client, account, {"contact": {"email": "ann@example.com"}, "event": "signed_up"})
    work(rt)  # waiting two days for the getting-started email
    workspace = copy_of_repo_workspace(tmp_path / "ws")
    (workspace / "flows" / "welcome.yaml").unlink()
    dry = deploy_files(rt.db, rt.settings, account.id, read_folder(workspace),
                       now=rt.clock.now(), dry_run=True)
    assert dry.exiting == {"welcome": 1}
    deploy(rt, account.id, flows=workspace / "flows")
    clock.advance(timedelta(seconds=1))
    tick(rt, clock.now())
    work(rt)
    with rt.db.session() as session:
        ann = session.scalars(select(Enrollment).where(Enrollment.flow_key == "welcome")).one()
        assert (ann.state, ann.exit_reason) == ("exited", "flow archived")
        assert [m.template for m in session.scalars(select(Message))] == ["welcome"]
