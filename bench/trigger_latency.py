"""Trigger latency budget (DESIGN §7): webhook received -> email accepted by the SMTP server.

A sustained `--rate` events/s (default 100) for `--duration` seconds (default 60) is posted
to `POST /v1/events` of a `connector serve`-like world (bench/world.py: gunicorn web, one
`connector worker` per core, all queues, the first one ticking, SQLite or `--postgres`);
each event is a new contact, whose welcome email is the one timed. The open-loop clients
(`--clients` processes, each pacing its share) record when each POST was sent; a client
that falls behind its schedule posts at once and the lag is reported.

The sink is Postfix's `smtp-sink` dumping every message to its own file (`-d`): the
recipient (X-Rcpt-Args) matches an email to its POST, and the file's mtime is when the
sink finished receiving it (kernel coarse clock: a few ms of resolution, the same
wall clock as the clients' `time.time()`). After the last POST the bench waits up to
`--drain` seconds for the rest; an email that never arrived counts with the time from its
POST to the end of that wait, so p99 and max are then lower bounds (and say so).

Last line: `ratio=<p99 / 1000 ms>` (budget: p50 < 250 ms, p99 < 1 s, so ratio < 1).

    python -m bench.trigger_latency [--rate 100] [--duration 60] [--drain 120] [--quick]
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time

if __package__ in (None, ""):  # run as `python bench/trigger_latency.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import latency
from bench.ingest import free_port
from bench.smtp_tools import SmtpSink, ensure_tools
from bench.world import World, add_world_arguments, load_line, post_all


def run(args: argparse.Namespace) -> int:
    ensure_tools()
    tag = "lat" + secrets.token_hex(3)
    total = round(args.rate * args.duration)
    batch = [f"{tag}-{i}@example.com" for i in range(total)]
    print(
        f"bench/trigger_latency.py: {args.rate:g} events/s for {args.duration:g}s ({total} new "
        f"contacts) from {args.clients} paced clients; {args.workers} connector worker(s), "
        f"gunicorn {args.web_workers} x {args.threads} threads; "
        f"{'PostgreSQL' if args.postgres else 'SQLite'}; sink: smtp-sink -d; {load_line()}",
        flush=True,
    )
    with World(args, prefix="bench-latency-") as world:
        sink = world.enter_context(SmtpSink(free_port(), dump=True))
        world.start_workers(mail_url=sink.url)
        # Warm-up outside the timing: the workers' first job loads the workspace.
        warm = [f"{tag}-warm-{i}@example.com" for i in range(5)]
        post_all(world.web.port, world.api_key, warm, clients=1)
        sink.wait_for(len(warm), 60.0)
        warm_count = sink.accepted
        load_during = os.getloadavg()[0]
        _, posted = post_all(
            world.web.port, world.api_key, batch, clients=args.clients, rate=args.rate
        )
        load_during = max(load_during, os.getloadavg()[0])
        accepted = {email: at for email, at, status in posted.sent if status == 202}
        last_post = max((at for _, at, _ in posted.sent), default=time.time())
        deadline = last_post + args.drain
        expected = warm_count + len(accepted)
        waited_until = latency.wait_for_emails(world, sink, expected, deadline)
        arrived = latency.arrivals(sink)
        errors = world.worker_logs()
    latencies, missing = latency.latencies(accepted, arrived, waited_until)
    received = len(accepted) - missing
    rejected = len(posted.sent) - len(accepted)
    span = last_post - min((at for _, at, _ in posted.sent), default=last_post)
    print(
        f"posted {len(posted.sent)} in {span:.1f}s ({len(posted.sent) / span if span else 0:.1f}/s"
        f" achieved; the clients fell up to {posted.behind * 1000:.0f} ms behind schedule); "
        f"{rejected} non-202, {len(posted.errors)} connection errors; load average (1 min) "
        f"up to {load_during:.2f} during the posting"
    )
    print(f"emails received {received}/{len(accepted)} within {args.drain:g}s after the last POST")
    latency.report(latencies, missing, "POST", errors)
    return 1 if missing or rejected or posted.errors else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--rate", type=float, default=100.0, help="events/s, all clients")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of posting")
    parser.add_argument(
        "--drain",
        type=float,
        default=120.0,
        help="seconds to wait for the last emails after the last POST",
    )
    parser.add_argument("--quick", action="store_true", help="10 s of posting, 30 s drain")
    add_world_arguments(parser)
    parser.set_defaults(clients=8)
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.drain = 10.0, 30.0
    if args.rate <= 0 or args.duration <= 0 or args.clients < 1:
        parser.error("--rate, --duration and --clients must be positive")
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
