"""Backfill and reconciliation with the real Salesforce adapter (the one connector/crm.py
builds for the account) against the emulated org over real sockets, with no Outbound
Message configured: what the connector learns, it reads. Changes missed are healed,
flows included; records deleted in the org (Salesforce sends nothing then) are erased from
the deleted-records log; and `connector sync salesforce` through the real CLI."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, update

from adapters.inbound import CONTACT_DELETED, CONTACT_IMPORTED, CONTACT_SYNCED
from connector.cli import main
from connector.clock import VirtualClock
from connector.models import Account, Contact, Enrollment, InboxEvent
from connector.runtime import Runtime
from connector.services.accounts import connect_account
from connector.services.processing import process_pending
from connector.services.sync import OVERLAP, backfill, reconcile
from devcrm.salesforce import Org, SalesforceEmulator
from tests.conftest import MakeRuntime
from tests.support.jobs import work
from tests.support.paths import ROOT
from tests.support.workspaces import deploy

BATCH = 50  # the emulator's query batch: a few hundred records take several pages
FLOWS = {
    "welcome": "name: Welcome\ntrigger: {type: contact.created}\n"
               "steps:\n  - {id: welcome, send: welcome}\n",
    "web-lead": "name: Web lead\ntrigger: {type: property.changed, property: leadsource, "
                "to: Web}\nsteps:\n  - {id: hello, send: welcome}\n",
}


@pytest.fixture
def emu() -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator(query_batch=BATCH) as emulator:
        yield emulator


@pytest.fixture
def org(emu: SalesforceEmulator) -> Org:
    return emu.add_org()


@pytest.fixture
def sf_rt(make_runtime: MakeRuntime, clock: VirtualClock) -> Runtime:
    # The emulator stamps records with the wall clock: the test's clock follows it.
    clock.set(datetime.now(UTC))
    return make_runtime(crm={})


@pytest.fixture
def account_id(sf_rt: Runtime, emu: SalesforceEmulator, org: Org, clock: VirtualClock,
               tmp_path: Path) -> int:
    with sf_rt.db.session() as session:
        view, _ = connect_account(session, sf_rt.vault, provider="salesforce",
                                  external_id=org.org_id, access_token=org.access_token,
                                  instance_url=emu.url, now=clock.now())
    deploy(sf_rt, view.id, **salesforce_workspace(tmp_path))
    return view.id


def salesforce_workspace(target: Path) -> dict[str, Path]:
    """Flows, segments and templates of the tests' own (the sync's assertions count the
    repo's flows out)."""
    folders = {part: target / part for part in ("flows", "segments", "templates")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    for key, text in FLOWS.items():
        (folders["flows"] / f"{key}.yaml").write_text(text)
    for name in ("_layouts", "_partials", "welcome"):  # `firstname`: FirstName, lower-cased
        shutil.copytree(ROOT / "templates" / name, folders["templates"] / name)
    return folders


def catch_up(clock: VirtualClock) -> None:
    """The connector's clock a moment past the org's latest change."""
    clock.set(datetime.now(UTC) + timedelta(seconds=1))


def person(org: Org, n: int, sobject: str = "Contact") -> str:
    values = {"Email": f"{sobject.lower()}{n}@example.com", "LastName": f"{sobject}{n}"}
    return org.create(sobject, {**values, "Company": "Acme"} if sobject == "Lead" else values)


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


def watermark(rt: Runtime, account_id: int) -> datetime | None:
    with rt.db.session() as session:
        return session.get_one(Account, account_id).crm_synced_through


def deleted_calls(emu: SalesforceEmulator) -> list[str]:
    return [path.split("/")[-3] for method, path, _, _ in emu.requests
            if method == "GET" and path.endswith("/deleted/")]


def test_a_backfill_reads_every_contact_and_unconverted_lead_page_by_page(
    sf_rt: Runtime, emu: SalesforceEmulator, org: Org, account_id: int
) -> None:
    contacts = [person(org, n) for n in range(120)]
    leads = [person(org, n, "Lead") for n in range(30)]
    converted = org.convert_lead(leads.pop())  # the Lead is closed; its Contact is read
    seen: list[int] = []
    report = backfill(sf_rt, account_id, progress=lambda r: seen.append(r.contacts))
    assert (report.outcome, report.deleted, report.warnings) == ("complete", 0, [])
    # Contacts in three query batches (50, 50, 21), then the Leads in one.
    assert (report.pages, report.contacts, report.stored) == (4, 150, 150)
    assert seen == [50, 100, 150 - len(leads), 150]
    assert deleted_calls(emu) == ["Contact", "Lead"]
    rows = inbox(sf_rt, CONTACT_IMPORTED)
    assert sorted(r.payload["crm_id"] for r in rows) == sorted([*contacts, converted, *leads])
    assert {r.payload["properties"]["email"] for r in rows} >= {"contact0@example.com",
                                                               "lead0@example.com"}

    again = backfill(sf_rt, account_id)  # a rerun stores nothing twice
    assert (again.outcome, again.contacts, again.stored) == ("complete", 150, 0)

    process_pending(sf_rt)
    work(sf_rt)
    with sf_rt.db.session() as session:
        assert len(session.scalars(select(Contact.id)).all()) == 150
    assert enrollments(sf_rt) == []  # a backfill starts no flow


def test_a_reconciliation_heals_changes_no_outbound_message_brought(
    sf_rt: Runtime, emu: SalesforceEmulator, org: Org, account_id: int, clock: VirtualClock
) -> None:
    person(org, 1)  # a Contact nothing happens to
    web = person(org, 2)
    backfill(sf_rt, account_id)
    process_pending(sf_rt)
    work(sf_rt)
    before = watermark(sf_rt, account_id)
    assert before is not None and enrollments(sf_rt) == []

    org.update("Contact", web, {"LeadSource": "Web"})  # no Outbound Message: none configured
    newcomer = person(org, 3, "Lead")
    catch_up(clock)
    report = reconcile(sf_rt, account_id)
    assert (report.outcome, report.deleted) == ("complete", 0)
    assert emu.outbound_deliveries == []
    synced = {e.payload["crm_id"]: e.payload for e in inbox(sf_rt, CONTACT_SYNCED)}
    assert {web, newcomer} <= set(synced)  # (the quiet one too: created within the overlap)
    assert synced[web]["properties"]["leadsource"] == "Web"
    assert watermark(sf_rt, account_id) == report.synced_through == clock.now() - OVERLAP

    process_pending(sf_rt)
    work(sf_rt)
    # What the missed messages would have done: the change starts the property-changed
    # flow, the Lead created since the install is welcomed; the quiet Contact is left alone.
    assert enrollments(sf_rt) == sorted([("web-lead", web), ("welcome", newcomer)])

    catch_up(clock)
    again = reconcile(sf_rt, account_id)
    assert (again.outcome, again.stored) == ("complete", 0)


def test_records_deleted_in_the_org_are_erased_by_the_reconciliation(
    sf_rt: Runtime, emu: SalesforceEmulator, org: Org, account_id: int, clock: VirtualClock
) -> None:
    kept, gone = person(org, 1), person(org, 2)
    gone_lead = person(org, 3, "Lead")
    backfill(sf_rt, account_id)
    process_pending(sf_rt)
    org.delete("Contact", gone)
    org.delete("Lead", gone_lead)
    catch_up(clock)

    report = reconcile(sf_rt, account_id)
    assert (report.outcome, report.deleted) == ("complete", 2)
    # (and the kept one read again as a change: it was created within the overlap)
    assert report.stored == 2 + len(inbox(sf_rt, CONTACT_SYNCED))
    deletions = inbox(sf_rt, CONTACT_DELETED)
    assert [e.payload for e in deletions] == [{"crm_id": gone, "privacy": False},
                                              {"crm_id": gone_lead, "privacy": False}]
    assert all(e.dedup_key.startswith(f"delete:{e.payload['crm_id']}:") for e in deletions)
    process_pending(sf_rt)
    with sf_rt.db.session() as session:
        mirror = {c.crm_id: c for c in session.scalars(select(Contact))}
    assert mirror[kept].deleted_at is None and mirror[kept].email == "contact1@example.com"
    for crm_id in (gone, gone_lead):
        assert mirror[crm_id].deleted_at is not None
        assert (mirror[crm_id].email, mirror[crm_id].properties) == (None, {})

    # The next run reads the window again from the watermark: nothing is stored twice.
    catch_up(clock)
    again = reconcile(sf_rt, account_id)
    assert (again.outcome, again.stored) == ("complete", 0)
    assert deleted_calls(emu) == ["Contact", "Lead"] * 3


def test_a_window_older_than_salesforce_keeps_deletions_is_clamped_and_said(
    sf_rt: Runtime, emu: SalesforceEmulator, org: Org, account_id: int, clock: VirtualClock
) -> None:
    installed = clock.now() - timedelta(days=20)  # never synced: the window starts there
    with sf_rt.db.session() as session:
        session.execute(update(Account).where(Account.id == account_id)
                        .values(created_at=installed))
    org.delete("Contact", person(org, 1))
    catch_up(clock)
    report = reconcile(sf_rt, account_id)
    assert (report.outcome, report.deleted) == ("complete", 1)  # not INVALID_REPLICATION_DATE
    (warning,) = report.warnings
    assert warning.startswith("deletions before ")
    assert f"asked from {installed:%Y-%m-%d %H:%M} UTC" in warning
    start = datetime.fromisoformat(warning.split()[2] + "T" + warning.split()[3] + "+00:00")
    assert clock.now() - timedelta(days=15) < start < clock.now() - timedelta(days=14)


def test_a_naive_datetime_is_refused(sf_rt: Runtime, account_id: int) -> None:
    with sf_rt.db.session() as session:
        account = session.get_one(Account, account_id)
        session.expunge(account)
    crm = sf_rt.crm_for(account)
    naive = datetime(2026, 3, 1, 9, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        crm.deleted_since(since=naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        crm.changed_since(since=naive, properties=[])


# ---- the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path, database_url: str, redis_url: str, sf_rt: Runtime) -> dict[str, str]:
    assert sf_rt.settings.encryption_keys is not None
    return {"APP_ENV": "development", "VAR_DIR": str(tmp_path / "var"),
            "DATABASE_URL": database_url, "REDIS_URL": redis_url,
            "ENCRYPTION_KEYS": sf_rt.settings.encryption_keys, "SECRET_KEY": "s",
            "FLOWS_DIR": str(ROOT / "flows"), "TEMPLATES_DIR": str(ROOT / "templates"),
            "SEGMENTS_DIR": str(ROOT / "segments")}


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def connect(env: dict[str, str], provider: str, *args: str) -> str:
    """`connector accounts connect PROVIDER ...`; the new account's id."""
    result = run(env, "accounts", "connect", provider, *args)
    assert result.exit_code == 0, result.output
    found = re.search(r"connected account (\d+)", result.output)
    assert found is not None, result.output
    return found.group(1)


def connect_org(env: dict[str, str], emu: SalesforceEmulator, org: Org, workspace: Path
                ) -> str:
    """The org connected as an account, the Salesforce workspace deployed to it."""
    account = connect(env, "salesforce", "--org-id", org.org_id, "--instance-url", emu.url,
                      "--access-token", org.access_token)
    deployed = run(env, "deploy", str(workspace), "--account", account)
    assert deployed.exit_code == 0, deployed.output
    return account


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    salesforce_workspace(tmp_path / "workspace")
    return tmp_path / "workspace"


def test_the_cli_backfills_and_reconciles_an_org_with_a_progress_bar(
    env: dict[str, str], emu: SalesforceEmulator, org: Org, sf_rt: Runtime, workspace: Path
) -> None:
    contacts = [person(org, n) for n in range(60)]
    leads = [person(org, n, "Lead") for n in range(5)]
    account = connect_org(env, emu, org, workspace)

    result = run(env, "sync", "salesforce")
    assert result.exit_code == 0, result.output
    assert f"account {account} backfill" in result.output and "contacts/s" in result.output
    assert "65/65" in result.output  # the bar, at its end
    assert (f"account {account}: backfill read 65 contact(s) in 3 page(s) and 0 "
            "deletion(s), 65 new to the inbox, in ") in result.output
    assert len(inbox(sf_rt, CONTACT_IMPORTED)) == 65
    assert sf_rt.queues["events"].count == 1  # the events worker was woken

    org.update("Lead", leads[0], {"LeadSource": "Web"})
    org.delete("Contact", contacts[0])
    reconciled = run(env, "sync", "salesforce", "--account", account, "--reconcile")
    assert reconciled.exit_code == 0, reconciled.output
    assert re.search(rf"account {account}: reconcile read \d+ contact\(s\) in 1 page\(s\) "
                     r"and 1 deletion\(s\)", reconciled.output), reconciled.output
    assert leads[0] in {e.payload["crm_id"] for e in inbox(sf_rt, CONTACT_SYNCED)}
    assert [e.payload["crm_id"] for e in inbox(sf_rt, CONTACT_DELETED)] == [contacts[0]]


def test_the_cli_says_why_an_account_cannot_be_synced(
    env: dict[str, str], emu: SalesforceEmulator, org: Org, workspace: Path
) -> None:
    account = connect_org(env, emu, org, workspace)
    hub = connect(env, "hubspot", "--portal-id", "626262", "--access-token", "pat-na1-t")
    cases = {
        ("--account", "9999"): "no account 9999 (`connector accounts list`)",
        ("--account", hub): f"account {hub} is a hubspot account, not a Salesforce one "
                            "(`connector sync hubspot`)",
        ("--account", "x"): "'x' is not a valid integer",
        ("--org", account): "No such option '--org'",
    }
    for args, message in cases.items():
        result = run(env, "sync", "salesforce", *args)
        assert result.exit_code in (1, 2) and message in result.output, result.output
        assert "Traceback" not in result.output

    assert run(env, "accounts", "disconnect", account, "--reason", "revoked").exit_code == 0
    result = run(env, "sync", "salesforce", "--account", account)
    assert result.exit_code == 1
    assert (f"account {account} is disconnected (revoked): connect the org again "
            "(/oauth/salesforce/install) or `connector accounts connect salesforce` with a "
            "new token first") in result.output
    nothing = run(env, "sync", "salesforce")  # every connected one: none is
    assert nothing.exit_code == 0
    assert "no connected Salesforce accounts" in nothing.output

    helped = run(env, "sync", "salesforce", "--help")
    assert helped.exit_code == 0
    assert "every Contact and unconverted Lead" in helped.output
    assert "deletions" in helped.output and "--reconcile" in helped.output
