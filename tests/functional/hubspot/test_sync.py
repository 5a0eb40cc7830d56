"""Backfill and reconciliation with the real HubSpot adapter against the emulator over real
sockets (no webhooks subscribed: what the connector learns, it reads), and
`connector sync hubspot` through the real CLI: its progress bar, summary and errors."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from adapters.inbound import CONTACT_IMPORTED, CONTACT_SYNCED
from connector.cli import main
from connector.clock import VirtualClock
from connector.models import Account, Contact, Enrollment, InboxEvent
from connector.runtime import Runtime
from connector.services.accounts import connect_account
from connector.services.processing import process_pending
from connector.services.sync import backfill, reconcile
from connector.workspaces import deploy_default
from devcrm.hubspot import HubSpotEmulator, Portal
from tests.conftest import MakeRuntime
from tests.support.jobs import work
from tests.support.paths import ROOT

HUB_ID = 515151
TOKEN = "pat-na1-sync-tests"
LIST_PATH = "/crm/v3/objects/contacts"
SEARCH_PATH = "/crm/v3/objects/contacts/search"


@pytest.fixture
def emu() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(client_id="sync-cid", client_secret="sync-secret") as emulator:
        yield emulator


@pytest.fixture
def portal(emu: HubSpotEmulator) -> Portal:
    return emu.add_portal(hub_id=HUB_ID, private_token=TOKEN)


@pytest.fixture
def hub_rt(make_runtime: MakeRuntime, clock: VirtualClock, emu: HubSpotEmulator) -> Runtime:
    # The emulator stamps changes with the wall clock: the test's clock follows it.
    clock.set(datetime.now(UTC))
    return make_runtime(crm={}, hubspot_api_base=emu.url)


@pytest.fixture
def account_id(hub_rt: Runtime, portal: Portal, clock: VirtualClock) -> int:
    with hub_rt.db.session() as session:
        view, _ = connect_account(session, hub_rt.vault, provider="hubspot",
                                  external_id=str(HUB_ID), access_token=TOKEN, now=clock.now())
    deploy_default(hub_rt.db, hub_rt.settings, view.id, clock.now())
    return view.id


def seed(portal: Portal, count: int, **properties: str) -> list[str]:
    start = len(portal.contacts)
    return [portal.create_contact({"email": f"p{start + n}@example.com",
                                   "firstname": f"P{start + n}", **properties})
            for n in range(count)]


def calls(emu: HubSpotEmulator, method: str, path: str) -> int:
    return sum(1 for m, p, _, _ in emu.requests if m == method and p == path)


def inbox(rt: Runtime, kind: str) -> list[InboxEvent]:
    with rt.db.session() as session:
        return list(session.scalars(
            select(InboxEvent).where(InboxEvent.kind == kind).order_by(InboxEvent.id)))


def enrollments(rt: Runtime) -> list[tuple[str, str | None]]:
    with rt.db.session() as session:
        rows = session.execute(
            select(Enrollment.flow_key, Contact.crm_id)
            .join(Contact, Contact.id == Enrollment.contact_id).order_by(Enrollment.id))
        return sorted((flow, crm_id) for flow, crm_id in rows)


def test_a_backfill_of_250_contacts_reads_three_pages_and_starts_no_flow(
    hub_rt: Runtime, emu: HubSpotEmulator, portal: Portal, account_id: int
) -> None:
    ids = seed(portal, 240) + seed(portal, 10, lifecyclestage="customer")
    seen: list[int] = []
    report = backfill(hub_rt, account_id, progress=lambda r: seen.append(r.contacts))
    assert (report.outcome, report.pages, report.contacts, report.stored) == (
        "complete", 3, 250, 250)
    assert seen == [100, 200, 250]
    assert calls(emu, "GET", LIST_PATH) == 3
    rows = inbox(hub_rt, CONTACT_IMPORTED)
    assert sorted(r.payload["crm_id"] for r in rows) == sorted(ids)
    assert rows[0].payload["email"] == "p0@example.com"
    assert rows[-1].payload["properties"]["lifecyclestage"] == "customer"

    assert backfill(hub_rt, account_id).stored == 0  # a rerun stores nothing twice
    assert calls(emu, "GET", LIST_PATH) == 6

    process_pending(hub_rt)
    work(hub_rt)
    with hub_rt.db.session() as session:
        assert len(session.scalars(select(Contact.id)).all()) == 250
    assert enrollments(hub_rt) == []


def test_a_reconciliation_reads_what_changed_in_the_portal_without_webhooks(
    hub_rt: Runtime, emu: HubSpotEmulator, portal: Portal, account_id: int,
    clock: VirtualClock
) -> None:
    first, second = seed(portal, 2)
    backfill(hub_rt, account_id)
    process_pending(hub_rt)
    assert enrollments(hub_rt) == []

    portal.update_contact(second, {"lifecyclestage": "customer"})  # no webhook: none subscribed
    (newcomer,) = seed(portal, 1)
    assert emu.webhook_deliveries == []
    clock.set(datetime.now(UTC))
    report = reconcile(hub_rt, account_id)
    assert report.outcome == "complete"
    assert calls(emu, "POST", SEARCH_PATH) == 1
    synced = {e.payload["crm_id"] for e in inbox(hub_rt, CONTACT_SYNCED)}
    assert {second, newcomer} <= synced  # (the first too: it was changed within the overlap)
    with hub_rt.db.session() as session:
        watermark = session.get_one(Account, account_id).crm_synced_through
    assert watermark == report.synced_through and watermark is not None

    process_pending(hub_rt)
    work(hub_rt)
    # What the lost webhooks would have done: the change enters a segment flow, the
    # contact created since the install is welcomed; the first contact is left alone.
    assert enrollments(hub_rt) == sorted([("product-spotlight", second), ("welcome", newcomer)])
    assert first not in {crm_id for _, crm_id in enrollments(hub_rt)}

    again = reconcile(hub_rt, account_id)
    assert (again.outcome, again.stored) == ("complete", 0)


# ---- the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path, database_url: str, redis_url: str, emu: HubSpotEmulator,
        hub_rt: Runtime) -> dict[str, str]:
    assert hub_rt.settings.encryption_keys is not None
    return {"APP_ENV": "development", "VAR_DIR": str(tmp_path / "var"),
            "DATABASE_URL": database_url, "REDIS_URL": redis_url,
            "ENCRYPTION_KEYS": hub_rt.settings.encryption_keys, "SECRET_KEY": "s",
            "HUBSPOT_API_BASE": emu.url, "FLOWS_DIR": str(ROOT / "flows"),
            "TEMPLATES_DIR": str(ROOT / "templates"), "SEGMENTS_DIR": str(ROOT / "segments")}


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def connect(env: dict[str, str], provider: str, *args: str) -> str:
    """`connector accounts connect PROVIDER ...`; the new account's id."""
    result = run(env, "accounts", "connect", provider, *args)
    assert result.exit_code == 0, result.output
    found = re.search(r"connected account (\d+)", result.output)
    assert found is not None, result.output
    return found.group(1)


def test_the_cli_backfills_every_connected_account_with_a_progress_bar(
    env: dict[str, str], emu: HubSpotEmulator, portal: Portal, hub_rt: Runtime
) -> None:
    other = emu.add_portal(hub_id=HUB_ID + 1, private_token=TOKEN + "-other")
    seed(portal, 120)
    seed(other, 3)
    first = connect(env, "hubspot", "--portal-id", str(HUB_ID), "--access-token", TOKEN)
    second = connect(env, "hubspot", "--portal-id", str(HUB_ID + 1),
                     "--access-token", TOKEN + "-other")

    result = run(env, "sync", "hubspot")
    assert result.exit_code == 0, result.output
    assert f"account {first} backfill" in result.output
    assert f"account {second} backfill" in result.output
    assert "120/120" in result.output and "contacts/s" in result.output  # the bar, at its end
    assert (f"account {first}: backfill read 120 contact(s) in 2 page(s), 120 new to the "
            "inbox, in ") in result.output
    assert (f"account {second}: backfill read 3 contact(s) in 1 page(s), 3 new to the "
            "inbox, in ") in result.output
    assert len(inbox(hub_rt, CONTACT_IMPORTED)) == 123
    assert hub_rt.queues["events"].count == 1  # the events worker was woken

    portal.update_contact("101", {"firstname": "Changed"})
    reconciled = run(env, "sync", "hubspot", "--account", first, "--reconcile")
    assert reconciled.exit_code == 0, reconciled.output
    assert f"account {first}: reconcile read" in reconciled.output
    assert {e.payload["crm_id"]: e.payload["properties"]["firstname"]
            for e in inbox(hub_rt, CONTACT_SYNCED)}["101"] == "Changed"
    assert f"account {second}" not in reconciled.output


def test_the_cli_says_why_an_account_cannot_be_synced(
    env: dict[str, str], portal: Portal
) -> None:
    hub = connect(env, "hubspot", "--portal-id", str(HUB_ID), "--access-token", TOKEN)
    org = connect(env, "salesforce", "--org-id", "00D000000000001AAA",
                  "--instance-url", "https://acme.my.salesforce.com", "--access-token", "t")
    cases = {
        ("--account", "9999"): "no account 9999",
        ("--account", org): f"account {org} is a salesforce account, not a HubSpot one",
    }
    for args, message in cases.items():
        result = run(env, "sync", "hubspot", *args)
        assert (result.exit_code, message in result.output) == (1, True), result.output
        assert "Traceback" not in result.output

    assert run(env, "accounts", "disconnect", hub, "--reason", "uninstalled").exit_code == 0
    result = run(env, "sync", "hubspot", "--account", hub)
    assert result.exit_code == 1
    assert f"account {hub} is disconnected (uninstalled)" in result.output
    nothing = run(env, "sync", "hubspot")  # every connected one: none is
    assert nothing.exit_code == 0
    assert "no connected HubSpot accounts" in nothing.output


def test_the_cli_exits_1_with_the_reason_when_hubspot_cannot_be_reached(
    env: dict[str, str], portal: Portal
) -> None:
    hub = connect(env, "hubspot", "--portal-id", str(HUB_ID), "--access-token", TOKEN)
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    result = run({**env, "HUBSPOT_API_BASE": f"http://127.0.0.1:{port}"},
                 "sync", "hubspot", "--account", hub, "--reconcile")
    assert result.exit_code == 1
    assert f"account {hub}: reconcile stopped after 0 contact(s)" in result.output
    assert f"account {hub}: HubSpot could not be read (HubSpot search changed contacts: no answer" \
        in result.output
    assert "Traceback" not in result.output

