"""Trigger latency budget (DESIGN §7) from HubSpot: a contact created in the CRM -> the
welcome email accepted by the SMTP server.

`bench/trigger_latency.py`'s world (bench/world.py: gunicorn web, one `connector worker`
per core, all queues, Postfix's `smtp-sink -d` as the sink), with the HubSpot emulator
(`devcrm.hubspot`, in this process, its real 110 per 10 s limit) in front: the account
is the emulator portal's (its private token), the emulator's webhooks (contact.creation,
batched per portal after its 50 ms linger, signed v3 with the app's secret) go to
`POST /webhooks/hubspot`, and the events worker batch-reads each chunk's new contacts
from the emulator before the welcome flow starts. Contacts are created at a sustained
`--rate` per second (default 100) for `--duration` seconds (default 20), paced from one
thread here; each one's latency runs from just before its creation to the mtime of its
email's dump file (the same wall clock).

After the last creation the bench waits up to `--drain` seconds; an email that never
arrived counts with the time to the end of that wait (p99 and max are then lower bounds,
and say so). Last line, as bench/trigger_latency.py: `ratio=<p99 / 1000 ms>` (budget:
p50 < 250 ms, p99 < 1 s).

    python -m bench.hubspot_latency [--rate 100] [--duration 20] [--drain 60] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

if __package__ in (None, ""):  # run as `python bench/hubspot_latency.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import latency
from bench.ingest import free_port
from bench.smtp_tools import SmtpSink, ensure_tools
from bench.world import World, add_world_arguments, load_line

WEBHOOK_PATH = "/webhooks/hubspot"


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """Variables every process the World starts inherits (it passes os.environ on)."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def connect_portal(world: World, emu: Any) -> Any:
    """The world's account becomes the emulator portal's: same hub id, its private token."""
    from connector.clock import SystemClock
    from connector.crypto import Vault
    from connector.db import Database
    from connector.services.accounts import connect_account
    from connector.settings import load_settings

    hub_id = world.scalar("SELECT external_id FROM accounts WHERE id = :a", a=world.account_id)
    portal = emu.add_portal(int(hub_id))
    settings = load_settings(**world.values)
    db = Database(settings.sqlalchemy_url)
    try:
        with db.session() as session:
            connect_account(session, Vault(settings.fernet_keys), provider="hubspot",
                            external_id=str(hub_id), access_token=portal.private_token,
                            now=SystemClock().now())  # fmt: skip
    finally:
        db.dispose()
    return portal


@dataclass
class Created:
    at: dict[str, float] = field(default_factory=dict)  # email -> wall time just before
    behind: float = 0.0  # the most a creation started after its planned time


def create_paced(portal: Any, emails: list[str], rate: float) -> Created:
    """Create one contact per email at `rate` per second, on schedule (late ones at once)."""
    out = Created()
    start = time.time() + 0.1
    for i, email in enumerate(emails):
        wait = start + i / rate - time.time()
        if wait > 0:
            time.sleep(wait)
        else:
            out.behind = max(out.behind, -wait)
        out.at[email] = time.time()
        portal.create_contact({"email": email, "firstname": "Ann", "lastname": "Lee"})
    return out


def run(args: argparse.Namespace) -> int:
    from devcrm.hubspot import HubSpotEmulator

    ensure_tools()
    tag = "hs" + secrets.token_hex(3)
    total = round(args.rate * args.duration)
    emails = [f"{tag}-{i}@example.com" for i in range(total)]
    print(
        f"bench/hubspot_latency.py: {args.rate:g} contacts/s created in the HubSpot emulator "
        f"for {args.duration:g}s ({total}); webhooks -> {WEBHOOK_PATH}; {args.workers} "
        f"connector worker(s), gunicorn {args.web_workers} x {args.threads} threads; "
        f"{'PostgreSQL' if args.postgres else 'SQLite'}; sink: smtp-sink -d; {load_line()}",
        flush=True,
    )
    with contextlib.ExitStack() as stack:
        emu = stack.enter_context(HubSpotEmulator())
        stack.enter_context(environment(
            HUBSPOT_API_BASE=emu.url, HUBSPOT_CLIENT_ID=emu.client_id,
            HUBSPOT_CLIENT_SECRET=emu.client_secret,
        ))  # fmt: skip
        world = stack.enter_context(World(args, prefix="bench-hslatency-"))
        portal = connect_portal(world, emu)
        emu.subscribe(f"http://127.0.0.1:{world.web.port}{WEBHOOK_PATH}")
        sink = world.enter_context(SmtpSink(free_port(), dump=True))
        world.start_workers(mail_url=sink.url)
        # Warm-up outside the timing: the workers' first jobs load the workspace and token.
        warm = [f"{tag}-warm-{i}@example.com" for i in range(5)]
        create_paced(portal, warm, 10.0)
        if not sink.wait_for(len(warm), 60.0):
            world.check_workers()
            raise RuntimeError(
                f"warm-up: {sink.accepted}/{len(warm)} emails in 60 s; webhook deliveries "
                f"{emu.webhook_deliveries[-5:]}; worker errors:\n{world.worker_logs()}"
            )
        warm_count, requests_before = sink.accepted, len(emu.requests)
        load_during = os.getloadavg()[0]
        created = create_paced(portal, emails, args.rate)
        load_during = max(load_during, os.getloadavg()[0])
        last = max(created.at.values())
        deadline = last + args.drain
        waited_until = latency.wait_for_emails(world, sink, warm_count + total, deadline)
        arrived = latency.arrivals(sink)
        errors = world.worker_logs()
        emu.drain(5.0)
        deliveries = list(emu.webhook_deliveries)
        api = emu.requests[requests_before:]
    latencies, missing = latency.latencies(created.at, arrived, waited_until)
    span = last - min(created.at.values())
    failed_posts = Counter(str(outcome) for _, outcome, _ in deliveries if outcome != 200)
    sizes = [n for _, outcome, n in deliveries if outcome == 200]
    print(
        f"created {total} in {span:.1f}s ({total / span if span else 0:.1f}/s achieved; up to "
        f"{created.behind * 1000:.0f} ms behind schedule); load average (1 min) up to "
        f"{load_during:.2f} during the creating"
    )
    print(
        f"webhook POSTs {len(deliveries)} (not 200, retried by the emulator: "
        f"{dict(failed_posts) or 'none'}), "
        f"{sum(sizes) / len(sizes) if sizes else 0:.1f} events each on average; emulator API "
        f"requests {len(api)} ({sum(1 for r in api if r[2] == 429)} answered 429): "
        f"{dict(Counter(f'{method} {path} {status}' for method, path, status, _ in api))}"
    )
    print(f"emails received {total - missing}/{total} within {args.drain:g}s after the last "
          "creation")  # fmt: skip
    latency.report(latencies, missing, "created in HubSpot", errors)
    return 1 if missing else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--rate", type=float, default=100.0, help="contacts created per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of creating")
    parser.add_argument(
        "--drain", type=float, default=60.0,
        help="seconds to wait for the last emails after the last creation",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="5 s of creating, 30 s drain")
    add_world_arguments(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.drain = 5.0, 30.0
    if args.rate <= 0 or args.duration <= 0:
        parser.error("--rate and --duration must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
