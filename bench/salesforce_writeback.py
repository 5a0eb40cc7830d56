"""Salesforce write-back (issue 9, Benchmarks): email Tasks/s the real path writes into an
emulated org vs a bare `requests` client posting the same Tasks to the same endpoint, in
alternating rounds of one run.

One org (`devcrm.salesforce.SalesforceEmulator`, in this process over real HTTP, its daily
API limit raised so the budget share never refuses) holds `--contacts` Contacts; one
connected account in our database mirrors them (their Salesforce ids). Each round:

- connector: `--per-contact` `email_sent` write-backs queued per contact (bench/writeback.py's
  `queue_emails_sent`), flushed by a spawned worker process (bench/writeback.py's
  `worker_main`: its own runtime, `flush_writebacks(rt, account_id)` with the account's
  SalesforceCRM from `rt.crm_for`, the Redis rate limiter on an embedded Redis, the SQLite
  file or `--database-url`): rows claimed 200 at a time, composite sObject calls of 200
  Tasks, outcomes recorded. Every row must end done and every Task be in the org.
- bare: a spawned process POSTing the very Tasks that round wrote (their request fields,
  read back from the org) to the same `composite/sobjects` endpoint, 200 per call,
  `allOrNone` false, with the same session token on one `requests.Session`; nothing else.

Tasks/s = Tasks / (seconds from the start signal to the last answer); after a warm-up of
each, the median of `--rounds` rounds of each is compared. The emulator bounds both (it is
the same sink, and its per-Task work grows with the org's Contacts), so the ratio says how
much of the sink's speed the connector's claim/write/record loop leaves. The connector
also paces itself: at most SalesforceConfig.rate_limit calls per second per org (shared by
every worker through Redis); the calls/s of each round are printed to show whether that
bound was reached. `--profile` runs the connector worker under cProfile and prints the
top frames of the timed rounds (whose figures are then the profiled, slower ones).

Last line: `ratio=<median connector Tasks/s / median bare Tasks/s>`.

    python bench/salesforce_writeback.py [--contacts 2000] [--per-contact 5] [--rounds 5]
                                         [--profile] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):  # run as `python bench/salesforce_writeback.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.ingest import BenchError, run_and_report
from bench.writeback import WorkerPlan, worker_main

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess
    from multiprocessing.synchronize import Event

    from devcrm.salesforce import Org, SalesforceEmulator

BATCH = 200  # adapters.salesforce.writeback.BATCH_SIZE: records per composite call
COMPOSITE = "/composite/sobjects"
# What the connector sends of each email Task (adapters/salesforce/writeback.py); the rest
# of a stored Task is the emulator's (Id, OwnerId, Priority, dates).
REQUEST_FIELDS = ("WhoId", "TaskSubtype", "Subject", "Status", "ActivityDate", "Description")
READY_TIMEOUT = 60.0
ROUND_TIMEOUT = 600.0
STOP_TIMEOUT = 30.0


# --- the bare client (a spawned process) --------------------------------------------------


@dataclass(frozen=True)
class BarePlan:
    url: str  # the org's composite/sobjects endpoint
    token: str
    records: list[dict[str, Any]]


def bare_main(plan: BarePlan, ready: Any, start: Event, stop: Event) -> None:
    """Report ready, then POST the records 200 per call as fast as answered; reports
    (Tasks created, seconds) on `ready` (what worker_main reports)."""
    import requests

    session = requests.Session()
    headers = {"Authorization": f"Bearer {plan.token}"}
    ready.put("ready")
    start.wait()
    created, started = 0, time.monotonic()
    try:
        for i in range(0, len(plan.records), BATCH):
            if stop.is_set():
                break
            body: dict[str, Any] = {"allOrNone": False, "records": plan.records[i:i + BATCH]}
            answer = session.post(plan.url, json=body, headers=headers, timeout=60)
            answer.raise_for_status()
            created += sum(1 for row in answer.json() if row.get("success"))
    finally:
        ready.put((created, time.monotonic() - started))
        session.close()


def timed_process(target: Callable[..., None], plan: Any, name: str) -> tuple[int, float]:
    """Run `target(plan, ready, start, stop)` in a spawned process, started once it is ready
    (imports done); what it reports: (records written, seconds)."""
    context = get_context("spawn")
    ready, start, stop = context.Queue(), context.Event(), context.Event()
    process = context.Process(target=target, args=(plan, ready, start, stop), name=name,
                              daemon=True)  # fmt: skip
    process.start()
    try:
        if _receive(ready, process, READY_TIMEOUT, "before it was ready") != "ready":
            raise BenchError(f"{name} did not start")
        start.set()
        written, seconds = _receive(ready, process, ROUND_TIMEOUT, "before it reported")
        return int(written), float(seconds)
    finally:
        stop.set()
        start.set()
        process.join(STOP_TIMEOUT)
        if process.is_alive():
            process.kill()
            process.join(5.0)


def _receive(ready: Any, process: BaseProcess, timeout: float, when: str) -> Any:
    """The process's next report; BenchError if it exits first or takes over `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            return ready.get(timeout=0.5)
        if not process.is_alive() and ready.empty():
            raise BenchError(f"{process.name} exited with {process.exitcode} {when}")
    raise BenchError(f"{process.name} took over {timeout:.0f}s {when}")


# --- the world ----------------------------------------------------------------------------


@dataclass
class World:
    emu: SalesforceEmulator
    org: Org
    values: dict[str, str]
    account_id: int
    contact_ids: list[int]  # our mirror rows, in the org's Contacts' order
    tmp: Path


def build_world(stack: contextlib.ExitStack, contacts: int, database_url: str | None) -> World:
    from bench.ingest import app_environment, free_port
    from bench.salesforce_ingest import sf_id
    from bench.writeback import insert_contacts
    from connector.clock import SystemClock
    from connector.crypto import Vault
    from connector.db import Database
    from connector.local.redis_embedded import EmbeddedRedis
    from connector.migrate import upgrade
    from connector.services.accounts import connect_account
    from connector.settings import load_settings
    from devcrm.salesforce import SalesforceEmulator

    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-sfwriteback-")))
    redis_server = stack.enter_context(EmbeddedRedis(tmp / "redis"))
    emu = stack.enter_context(SalesforceEmulator(api_limit=10**9))
    # A fresh org id per run: a reused scratch database keeps earlier runs' accounts.
    org = emu.add_org(sf_id("00D", secrets.randbelow(62**12)))
    crm_ids = [org.create("Contact", {"LastName": f"C{i}", "Email": f"c{i}@example.com"})
               for i in range(contacts)]  # fmt: skip
    values = app_environment(tmp, database_url or f"sqlite:///{tmp / 'connector.sqlite3'}",
                             redis_server.url, free_port())  # fmt: skip
    settings = load_settings(**values)
    upgrade(settings.sqlalchemy_url)
    db = Database(settings.sqlalchemy_url)
    now = SystemClock().now()
    try:
        with db.session() as session:
            view, _ = connect_account(
                session, Vault(settings.fernet_keys), provider="salesforce",
                external_id=org.org_id, access_token=org.access_token, instance_url=emu.url,
                name="bench", now=now,
            )  # fmt: skip
        with db.session() as session:
            contact_ids = insert_contacts(session, view.id, crm_ids, now)
    finally:
        db.dispose()
    return World(emu, org, values, view.id, contact_ids, tmp)


def queue_round(world: World, tag: str, per_contact: int) -> None:
    """`per_contact` queued emails for every contact, their messages `bench-<tag>.<j>-<i>`."""
    from bench.writeback import queue_emails_sent
    from connector.clock import SystemClock
    from connector.db import Database
    from connector.settings import load_settings

    db = Database(load_settings(**world.values).sqlalchemy_url)
    try:
        with db.session() as session:
            for j in range(per_contact):
                queue_emails_sent(session, world.account_id, world.contact_ids, f"{tag}.{j}",
                                  SystemClock().now())  # fmt: skip
    finally:
        db.dispose()


def tasks_of(org: Org, tag: str) -> list[dict[str, Any]]:
    """The request fields of the Tasks written for round `tag`'s messages."""
    from adapters.salesforce.writeback import marker

    wanted = marker(f"bench-{tag}.")[:-1]  # "[drip message bench-<tag>." + "<j>-<i>]"
    return [{"attributes": {"type": "Task"}, **{k: t[k] for k in REQUEST_FIELDS}}
            for t in org.all("Task") if wanted in str(t.get("Description"))]  # fmt: skip


# --- rounds -------------------------------------------------------------------------------


@dataclass
class Round:
    app: str  # "connector" or "bare"
    number: int  # 0: warm-up
    tasks: int
    seconds: float
    calls: int  # composite/sobjects calls the emulator answered 2xx
    other_calls: int  # any other request
    failed_calls: int  # non-2xx answers
    problems: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.tasks / self.seconds if self.seconds > 0 else 0.0


def run_round(world: World, app: str, number: int, tag: str, expected: int,
              profile: str | None) -> Round:  # fmt: skip
    from bench.writeback import row_counts

    log_from = len(world.emu.requests)
    if app == "connector":
        before = row_counts(world.values, world.account_id).get("done", 0)
        plan: Any = WorkerPlan(world.values, world.account_id, profile)
        written, seconds = timed_process(worker_main, plan, f"bench-sf-connector-{number}")
        done = row_counts(world.values, world.account_id).get("done", 0) - before
        landed = len(tasks_of(world.org, tag))
        problems = [f"{what} {n} of {expected}" for what, n in
                    (("rows done", done), ("Tasks in the org", landed), ("written", written))
                    if n != expected]  # fmt: skip
    else:
        records = tasks_of(world.org, tag)
        plan = BarePlan(f"{world.emu.url}/services/data/v59.0{COMPOSITE}",
                        world.org.access_token, records)  # fmt: skip
        written, seconds = timed_process(bare_main, plan, f"bench-sf-bare-{number}")
        problems = [f"created {written} of {expected}"] if written != expected else []
    log = [r for r in world.emu.requests[log_from:] if r[3] == world.org.org_id]
    calls = sum(1 for r in log if r[1].endswith(COMPOSITE) and r[2] < 300)
    failed = sum(1 for r in log if r[2] >= 300)
    return Round(app, number, written, seconds, calls, len(log) - calls - failed, failed,
                 problems)  # fmt: skip


def run(args: argparse.Namespace) -> list[Round]:
    run_tag = secrets.token_hex(3)
    rounds: list[Round] = []
    with contextlib.ExitStack() as stack:
        world = build_world(stack, args.contacts, args.database_url)
        print(f"org {world.org.org_id} with {args.contacts:,} Contacts at {world.emu.url}; "
              f"account {world.account_id}", flush=True)  # fmt: skip
        print(ROW.format("round", "app", "Tasks", "seconds", "Tasks/s", "calls", "calls/s",
                         "other", "non-2xx"))  # fmt: skip
        for number in range(args.rounds + 1):
            tag = f"{run_tag}-{number}"
            queue_round(world, tag, args.per_contact)
            profile = (str(world.tmp / f"connector-{number}.prof")
                       if args.profile and number else None)  # fmt: skip
            for app in ("connector", "bare"):
                result = run_round(world, app, number, tag, args.contacts * args.per_contact,
                                   profile)  # fmt: skip
                print_round(result)
                rounds.append(result)
        if args.profile:
            from bench.writeback import print_profile

            print_profile([str(world.tmp / f"connector-{n}.prof")
                           for n in range(1, args.rounds + 1)],
                          f"the connector worker, {args.rounds} timed round(s)",
                          top=20)  # below the HTTP call's frames: the claim, writes, record
    return rounds


ROW = "{:>5}  {:<9}  {:>7}  {:>8}  {:>9}  {:>6}  {:>8}  {:>6}  {:>8}"


def print_round(r: Round) -> None:
    print(ROW.format("warm" if r.number == 0 else r.number, r.app, r.tasks,
                     f"{r.seconds:.2f}", f"{r.rate:,.0f}", r.calls,
                     f"{r.calls / r.seconds:.1f}" if r.seconds else "-", r.other_calls,
                     r.failed_calls), flush=True)  # fmt: skip
    for problem in r.problems:
        print(f"  FAILED: {r.app} round {r.number}: {problem}", flush=True)


def report(rounds: Sequence[Round]) -> int:
    failed = any(r.problems or r.failed_calls for r in rounds)
    medians = {}
    print()
    for app in ("connector", "bare"):
        timed = [r for r in rounds if r.app == app and r.number > 0]
        medians[app] = statistics.median(r.rate for r in timed)
        print(f"{app}: median {medians[app]:,.0f} Tasks/s over {len(timed)} round(s) "
              f"(each {', '.join(f'{r.rate:,.0f}' for r in timed)})")  # fmt: skip
    if failed:
        print("FAILED: a round lost rows or Tasks, or the emulator answered non-2xx (above)")
    ratio = medians["connector"] / medians["bare"] if medians["bare"] else 0.0
    print(f"connector / bare requests client: {ratio:.2f} (same emulated org, same Tasks)")
    print(f"ratio={ratio:.2f}")
    return 1 if failed else 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=2000,
                        help="Contacts in the org")  # fmt: skip
    parser.add_argument("--per-contact", type=int, default=5,
                        help="email Tasks per contact per round (rounds long enough to time "
                        "while the org's size, which the emulator's per-Task work grows "
                        "with, stays put)")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds of each, after "
                        "a warm-up of each")  # fmt: skip
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the connector worker and print its top frames")  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 400 Contacts, 1 email each, 1 timed round "
                        "(overrides the above)")  # fmt: skip
    parser.add_argument(
        "--database-url", metavar="URL",
        help="a SCRATCH database instead of a temp SQLite file (migrated, gets an account, "
        "contacts and write-back rows)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.quick:
        args.contacts, args.per_contact, args.rounds = 400, 1, 1
    if min(args.contacts, args.per_contact, args.rounds) < 1:
        parser.error("--contacts, --per-contact and --rounds must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    from bench.world import load_line

    args = parse_args(argv)
    print(f"bench/salesforce_writeback.py: {args.contacts * args.per_contact:,} email Tasks "
          f"per round ({args.per_contact} for each of {args.contacts:,} Contacts), "
          f"{args.rounds} timed round(s) of each after a warm-up; "
          f"{'--database-url' if args.database_url else 'SQLite'}; {load_line()}",
          flush=True)  # fmt: skip
    return run_and_report(run, report, args)


if __name__ == "__main__":
    sys.exit(main())
