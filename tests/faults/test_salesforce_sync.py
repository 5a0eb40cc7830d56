"""The org running out of daily API requests in the middle of `connector sync salesforce`:
Salesforce answers REQUEST_LIMIT_EXCEEDED (403), the backfill stops "interrupted" with
what it read kept in the inbox and the watermark unmoved, the org is paused for every
worker; the next day a rerun goes on to the end and stores nothing twice."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from adapters.inbound import CONTACT_IMPORTED
from connector.cli import main
from connector.clock import VirtualClock
from connector.models import Account, InboxEvent
from connector.runtime import Runtime
from connector.services.accounts import connect_account
from connector.services.sync import backfill
from devcrm.salesforce import Org, SalesforceEmulator
from tests.conftest import MakeRuntime
from tests.support.paths import ROOT

BATCH = 50
# Two deleted-records windows (Contact, Lead), then the Contacts' first two query batches:
# the third batch is the request past the org's daily limit.
DAILY_LIMIT = 4
CONTACTS, LEADS = 120, 30


@pytest.fixture
def emu() -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator(query_batch=BATCH, api_limit=DAILY_LIMIT) as emulator:
        yield emulator


@pytest.fixture
def org(emu: SalesforceEmulator) -> Org:
    org = emu.add_org()
    for n in range(CONTACTS):
        org.create("Contact", {"LastName": f"C{n}", "Email": f"c{n}@example.com"})
    for n in range(LEADS):
        org.create("Lead", {"LastName": f"L{n}", "Email": f"l{n}@example.com",
                            "Company": "Acme"})
    return org


@pytest.fixture
def sf_rt(make_runtime: MakeRuntime, clock: VirtualClock) -> Runtime:
    clock.set(datetime.now(UTC))
    # The connector may use the whole budget: the org itself says when it is spent.
    return make_runtime(crm={}, salesforce_api_share=1.0)


def connect(rt: Runtime, emu: SalesforceEmulator, org: Org) -> int:
    with rt.db.session() as session:
        view, _ = connect_account(session, rt.vault, provider="salesforce",
                                  external_id=org.org_id, access_token=org.access_token,
                                  instance_url=emu.url, now=rt.clock.now())
    # No workspace: the default one reads HubSpot properties no Contact has.
    return view.id


def a_day_passes(emu: SalesforceEmulator, org: Org, redis_conn: redis.Redis) -> None:
    """The org's daily requests free again, and the hour the connector paused it ends."""
    emu.limiter.limit = 1000
    redis_conn.delete(f"ratelimit:salesforce:{org.org_id[:15]}:pause")


def imported(rt: Runtime) -> tuple[int, int]:
    """(events, distinct records) imported."""
    with rt.db.session() as session:
        rows = session.execute(select(func.count(), func.count(InboxEvent.dedup_key.distinct()))
                               .where(InboxEvent.kind == CONTACT_IMPORTED)).one()
        return int(rows[0]), int(rows[1])


def test_the_daily_limit_interrupts_a_backfill_that_a_rerun_finishes(
    sf_rt: Runtime, emu: SalesforceEmulator, org: Org, redis_conn: redis.Redis
) -> None:
    account_id = connect(sf_rt, emu, org)
    report = backfill(sf_rt, account_id)
    assert report.outcome == "interrupted"
    assert report.reason is not None and "daily API limit exceeded" in report.reason
    assert (report.pages, report.contacts, report.stored) == (2, 100, 100)
    assert imported(sf_rt) == (100, 100)  # what was read is kept
    with sf_rt.db.session() as session:
        assert session.get_one(Account, account_id).crm_synced_through is None
    refused = [p for m, p, status, _ in emu.requests if status == 403]
    assert len(refused) == 1 and "/query/" in refused[0]
    assert redis_conn.pttl(f"ratelimit:salesforce:{org.org_id[:15]}:pause") > 0

    a_day_passes(emu, org, redis_conn)
    rerun = backfill(sf_rt, account_id)
    assert (rerun.outcome, rerun.contacts, rerun.stored) == ("complete", CONTACTS + LEADS, 50)
    assert imported(sf_rt) == (CONTACTS + LEADS, CONTACTS + LEADS)  # nothing twice
    assert rerun.synced_through is not None


def test_the_cli_says_the_org_is_out_of_requests_and_a_rerun_goes_on(
    sf_rt: Runtime, emu: SalesforceEmulator, org: Org, redis_conn: redis.Redis,
    tmp_path: Path, database_url: str, redis_url: str
) -> None:
    account_id = connect(sf_rt, emu, org)
    assert sf_rt.settings.encryption_keys is not None
    env = {"APP_ENV": "development", "VAR_DIR": str(tmp_path / "var"),
           "DATABASE_URL": database_url, "REDIS_URL": redis_url,
           "ENCRYPTION_KEYS": sf_rt.settings.encryption_keys, "SECRET_KEY": "s",
           "SALESFORCE_API_SHARE": "1", "FLOWS_DIR": str(ROOT / "flows"),
           "TEMPLATES_DIR": str(ROOT / "templates"), "SEGMENTS_DIR": str(ROOT / "segments")}

    def sync() -> Result:
        return CliRunner().invoke(main, ["sync", "salesforce", "--account", str(account_id)],
                                  env=env)

    stopped = sync()
    assert stopped.exit_code == 1
    assert (f"account {account_id}: backfill stopped after 100 contact(s) in 2 page(s) and 0 "
            "deletion(s), 100 new to the inbox") in stopped.output
    assert re.search(rf"account {account_id}: Salesforce could not be read \(Salesforce list "
                     r"contacts: daily API limit exceeded \(.*\)\); what was read is kept: "
                     "run it again to go on", stopped.output), stopped.output
    assert "Traceback" not in stopped.output

    a_day_passes(emu, org, redis_conn)
    finished = sync()
    assert finished.exit_code == 0, finished.output
    assert (f"account {account_id}: backfill read 150 contact(s) in 4 page(s) and 0 "
            "deletion(s), 50 new to the inbox") in finished.output
    assert imported(sf_rt) == (150, 150)
