"""Campaign memory budget (issue 10): a worker's peak RSS is flat in the audience's size.

For each size (10,000 then 100,000 recipients) a fresh bench/world.py world (temp SQLite
file or a reset `--postgres` scratch database, an embedded Redis, one account) gets that
many contacts with purchase histories on a list and bench/campaign_send.py's campaign of
them, started for a few seconds ahead (`scheduled`), so that ONE real `connector worker`
(all queues, ticking, into smtp-sink) does everything: its ticker starts the campaign,
the first advance freezes the audience, the advances send chunk after chunk. Its VmHWM
and VmRSS (/proc/<pid>/status) are sampled for `--seconds` (or until the campaign is
sent). One worker does not send 100,000 emails in that time; what is measured is what
the freeze and walking the frozen audience cost.

Last line: `ratio=<peak RSS with 100k / peak with 10k>` (budget <= 1.1).

    python -m bench.campaign_memory [--small 10000] [--large 100000] [--seconds 90] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from datetime import timedelta

if __package__ in (None, ""):  # run as `python bench/campaign_memory.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.backlog_memory import reset_postgres, status_kb
from bench.campaign_send import add_audience, bench_runtime, deploy_campaigns
from bench.ingest import free_port
from bench.smtp_tools import SmtpSink, ensure_tools
from bench.world import World, load_line

SAMPLE_EVERY = 0.2
START_AHEAD = timedelta(seconds=3)  # the worker's ticker starts the campaign, not us
KEY = "memory"


@dataclass
class Run:
    audience: int
    build_seconds: float
    peak_kb: int
    end_rss_kb: int
    frozen: int
    sent: int
    seconds: float


def measure(args: argparse.Namespace, size: int) -> Run:
    from connector.services.campaigns import start_campaign

    if args.postgres:
        reset_postgres(args.postgres)
    with World(args, prefix="bench-campaign-memory-", provider="local") as world:
        rt = bench_runtime(world)
        deploy_campaigns(rt, world.account_id, [KEY])
        build = add_audience(rt, world.account_id, KEY, size)
        campaign_id = start_campaign(rt, world.account_id, KEY,
                                     at=rt.clock.now() + START_AHEAD)
        sink = world.enter_context(SmtpSink(free_port()))
        (worker,) = world.start_workers(mail_url=sink.url)
        started = time.monotonic()
        peak = rss = 0
        while time.monotonic() - started < args.seconds:
            world.check_workers()
            kb = status_kb(worker.pid)
            rss, peak = kb.get("VmRSS", 0), max(peak, kb.get("VmHWM", 0))
            if sink.accepted >= size:
                break
            time.sleep(SAMPLE_EVERY)
        elapsed = time.monotonic() - started
        frozen = world.scalar("SELECT count(*) FROM campaign_recipients WHERE "
                              "campaign_id = :c", c=campaign_id)
        errors = world.worker_logs()
    if errors:
        print("worker log lines with errors (last 20):\n  " + errors.replace("\n", "\n  "))
    return Run(size, build, peak, rss, int(frozen or 0), sink.accepted, elapsed)


def show(run: Run) -> str:
    return (
        f"audience {run.audience:>7,}: peak RSS (VmHWM) {run.peak_kb / 1024:.1f} MB (VmRSS at "
        f"the end {run.end_rss_kb / 1024:.1f} MB); {run.frozen:,} recipients frozen, "
        f"{run.sent:,} emails sent in {run.seconds:.0f}s ({run.sent / run.seconds:.1f}/s); "
        f"contacts stored in {run.build_seconds:.1f}s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=90.0,
                        help="seconds the worker runs each campaign (less if it finishes)")
    parser.add_argument("--quick", action="store_true", help="20 s per campaign")
    parser.add_argument("--postgres", metavar="URL",
                        help="a SCRATCH PostgreSQL database: its public schema is DROPPED "
                        "and recreated before each campaign")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds = 20.0
    # World's knobs: one worker (the one measured) and a small idle web process.
    args.workers, args.web_workers, args.threads = 1, 1, 1
    ensure_tools()
    print(f"bench/campaign_memory.py: one connector worker over a campaign of {args.small:,} "
          f"and then {args.large:,} recipients, {args.seconds:g}s each; "
          f"{'PostgreSQL' if args.postgres else 'SQLite'}; {load_line()}", flush=True)
    runs = []
    for size in (args.small, args.large):
        runs.append(measure(args, size))
        print(show(runs[-1]), flush=True)
    incomplete = [r for r in runs if r.frozen < r.audience]
    for r in incomplete:
        print(f"NOTE: the {r.audience:,} campaign's freeze was not done ({r.frozen:,} frozen):"
              " raise --seconds")
    ratio = runs[1].peak_kb / runs[0].peak_kb if runs[0].peak_kb else 0.0
    print(f"{load_line()}")
    print(f"peak {args.large:,} / peak {args.small:,}: {ratio:.3f} "
          f"(budget <= 1.1: {'met' if ratio <= 1.1 else 'NOT met'})")
    print(f"ratio={ratio:.3f}")
    return 1 if incomplete else 0


if __name__ == "__main__":
    sys.exit(main())
