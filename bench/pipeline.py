"""Delivery budget (DESIGN §7, issue 7): new contacts -> welcome email at an SMTP sink.

N new contacts are posted to `POST /v1/events` of a `connector serve`-like world
(bench/world.py: the gunicorn web process bench/ingest.py starts, an embedded Redis,
SQLite or `--postgres`, one `connector worker` per core) and the run is timed until Postfix's
`smtp-sink` has accepted every welcome email. The yardstick is Postfix's `smtp-source`
pushing messages of the same wire size into the same kind of sink, one SMTP session per
worker (`-d -s <workers>`: each worker holds one pooled connection), in the same round.

Each round measures, in this order:
- smtp-source: msgs/s with `-l` set so its messages have the welcome's wire size;
- end to end: N contacts posted (all queues, the first worker ticking) -> N emails
  accepted; timed from the first POST to the sink's N-th message;
- events stage alone: N contacts posted with no worker running, then workers on the
  `events` queue only, timed from their registration until every event is processed and
  every welcome is a `messages` row;
- send stage alone: those N pending emails drained by workers on the `send` queue only,
  timed from their registration to the sink's N-th message.

The welcome's wire size is measured first: a warm-up of a few contacts is delivered into a
second smtp-sink that dumps each message (`-d`), and smtp-source's own header overhead is
measured the same way, so `-l` is chosen to give the same bytes on the wire.

Last line: `ratio=<median end-to-end emails/s / median smtp-source msgs/s>` (budget >= 0.3;
the send stage alone >= 0.5 is printed above it).

    python -m bench.pipeline [--contacts 2000] [--rounds 3] [--quick] [--postgres URL]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/pipeline.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.ingest import free_port
from bench.smtp_tools import (
    SmtpSink,
    ensure_tools,
    read_dump,
    smtp_source,
    source_length,
    wire_size,
)
from bench.world import World, add_world_arguments, load_line, post_all, wait_until

WARMUP_CONTACTS = 20
PY_SPY_RATE = 100  # samples/s per worker


@contextlib.contextmanager
def profiled(world: World, name: str) -> Iterator[None]:
    """With --profile DIR: `py-spy record --format raw` on every worker while inside;
    DIR/<name>-w<n>.txt gets collapsed stacks (one per line, with sample counts)."""
    directory = world.args.profile
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not directory or not Path(py_spy).exists():
        yield
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    recorders = [
        subprocess.Popen(
            [
                py_spy,
                "record",
                "--pid",
                str(w.pid),
                "--format",
                "raw",
                "--rate",
                str(PY_SPY_RATE),
                "--output",
                f"{directory}/{name}-w{n + 1}.txt",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for n, w in enumerate(world.workers)
    ]
    try:
        yield
    finally:
        for recorder in recorders:
            recorder.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        for recorder in recorders:
            try:
                recorder.wait(30)
            except subprocess.TimeoutExpired:
                recorder.kill()


@dataclass
class Stage:
    done: int
    expected: int
    elapsed: float

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def complete(self) -> bool:
        return self.done >= self.expected

    def show(self, unit: str) -> str:
        note = "" if self.complete else f" (TIMED OUT at {self.done}/{self.expected})"
        return f"{self.rate:.1f} {unit}/s{note}"


@dataclass
class Round:
    source: float
    end_to_end: Stage
    ingest_under_load: float
    events: Stage
    send: Stage


def emails(tag: str, phase: str, n: int) -> list[str]:
    return [f"{tag}-{phase}-{i}@example.com" for i in range(n)]


def posted_ok(posted_statuses: list[int], errors: list[str]) -> str:
    bad = [s for s in posted_statuses if s != 202]
    if not bad and not errors:
        return ""
    return f" [{len(bad)} non-202, {len(errors)} connection errors]"


def measure_sizes(world: World, dump_sink: SmtpSink, tag: str, timeout: float) -> tuple[int, int]:
    """(welcome wire bytes, smtp-source -l giving that many): warm-up contacts delivered
    into the dumping sink, and smtp-source's header overhead measured the same way."""
    world.start_workers(mail_url=dump_sink.url)
    batch = emails(tag, "warm", WARMUP_CONTACTS)
    post_all(world.web.port, world.api_key, batch, clients=1)
    if not dump_sink.wait_for(WARMUP_CONTACTS, timeout):
        raise RuntimeError(
            f"warm-up: {dump_sink.accepted}/{WARMUP_CONTACTS} welcomes reached the sink in "
            f"{timeout:.0f}s; worker errors:\n{world.worker_logs()}"
        )
    world.stop_workers()
    dumps = dump_sink.dumps()
    recipients = {r for p in dumps for r in read_dump(p).recipients}
    assert recipients <= set(batch), f"unexpected recipients in the sink: {recipients - set(batch)}"
    welcome, overhead, length = source_length(dump_sink, dumps)
    smtp_source(dump_sink, messages=1, size=length, sessions=1)
    check = wire_size(dump_sink.dumps())
    print(
        f"welcome email on the wire: {welcome:,} bytes (median of {len(dumps)}); smtp-source "
        f"adds {overhead} bytes of headers, so -l {length:,} ({check:,} bytes on the wire)",
        flush=True,
    )
    return welcome, length


def end_to_end(
    world: World, sink: SmtpSink, batch: list[str], timeout: float
) -> tuple[Stage, float, str]:
    world.start_workers(mail_url=sink.url)
    before = sink.accepted
    started, posted = post_all(world.web.port, world.api_key, batch, clients=world.args.clients)
    last_post = posted.sent[-1][1] if posted.sent else started
    ingest = len(posted.sent) / (last_post - started) if last_post > started else 0.0
    sink.wait_for(before + len(batch), max(0.0, started + timeout - time.time()), poll=0.01)
    finished = time.time()
    world.stop_workers()
    note = posted_ok([s for _, _, s in posted.sent], posted.errors)
    return Stage(sink.accepted - before, len(batch), finished - started), ingest, note


def events_stage(
    world: World, sink: SmtpSink, batch: list[str], timeout: float
) -> tuple[Stage, str]:
    """Post with no worker running; then time `events`-only workers over the backlog."""
    world.stop_workers()
    _, posted = post_all(world.web.port, world.api_key, batch, clients=world.args.clients)
    like = batch[0].rsplit("-", 1)[0] + "-%"
    world.start_workers(mail_url=sink.url, queues=["events"], ticker=False)
    started = time.time()
    n = len(batch)
    with profiled(world, f"events-{batch[0].split('-')[1]}"):
        wait_until(
            lambda: world.processed_events(like) >= n and world.messages(like) >= n,
            timeout,
            poll=0.2,
            check=world.check_workers,
        )
        elapsed = time.time() - started
    done = min(world.processed_events(like), world.messages(like))
    world.stop_workers()
    return Stage(done, n, elapsed), posted_ok([s for _, _, s in posted.sent], posted.errors)


def send_stage(world: World, sink: SmtpSink, batch: list[str], timeout: float) -> Stage:
    """The pending welcomes of the events stage, drained by `send`-only workers."""
    like = batch[0].rsplit("-", 1)[0] + "-%"
    pending = world.messages(like, "pending")
    before = sink.accepted
    world.start_workers(mail_url=sink.url, queues=["send"], ticker=False)
    started = time.time()
    with profiled(world, f"send-{batch[0].split('-')[1]}"):
        sink.wait_for(before + pending, timeout, poll=0.01)
        elapsed = time.time() - started
    world.stop_workers()
    return Stage(sink.accepted - before, pending, elapsed)


def run(args: argparse.Namespace) -> int:
    ensure_tools()
    tag = "pipe" + secrets.token_hex(3)
    timeout = args.timeout or 60.0 + args.contacts / 5
    rounds: list[Round] = []
    print(
        f"bench/pipeline.py: {args.contacts} new contacts a stage, {args.rounds} round(s); "
        f"{args.workers} connector worker(s), gunicorn {args.web_workers} x {args.threads} "
        f"threads, {args.clients} client processes; {'PostgreSQL' if args.postgres else 'SQLite'}; "
        f"{load_line()}",
        flush=True,
    )
    with World(args, prefix="bench-pipeline-") as world:
        sink = world.enter_context(SmtpSink(free_port()))
        dump_sink = world.enter_context(SmtpSink(free_port(), dump=True))
        _, length = measure_sizes(world, dump_sink, tag, timeout)
        source_messages = args.source_messages or max(2000, args.contacts)
        for number in range(1, args.rounds + 1):
            source = smtp_source(sink, messages=source_messages, size=length, sessions=args.workers)
            e2e, ingest, e2e_note = end_to_end(
                world, sink, emails(tag, f"e{number}", args.contacts), timeout
            )
            events, events_note = events_stage(
                world, sink, emails(tag, f"s{number}", args.contacts), timeout
            )
            send = send_stage(world, sink, emails(tag, f"s{number}", args.contacts), timeout)
            rounds.append(Round(source.rate, e2e, ingest, events, send))
            print(
                f"round {number}: smtp-source {source.rate:,.0f} msgs/s ({source_messages} msgs, "
                f"-s {args.workers}); end to end {e2e.show('emails')}{e2e_note} (ingest "
                f"{ingest:.0f} req/s under that load); events stage {events.show('events')}"
                f"{events_note}; send stage {send.show('emails')}",
                flush=True,
            )
        statuses = world.scalar(
            "SELECT count(*) FROM messages WHERE account_id = :a AND status <> 'sent'",
            a=world.account_id,
        )
        errors = world.worker_logs()
    m_source = statistics.median(r.source for r in rounds)
    m_e2e = statistics.median(r.end_to_end.rate for r in rounds)
    m_events = statistics.median(r.events.rate for r in rounds)
    m_send = statistics.median(r.send.rate for r in rounds)
    m_ingest = statistics.median(r.ingest_under_load for r in rounds)
    n = len(rounds)
    print(f"medians over {n} round(s); {load_line()}")
    print(f"smtp-source (-l {length}, -s {args.workers}) into smtp-sink: {m_source:,.0f} msgs/s")
    print(f"end to end: {m_e2e:.1f} emails/s (ingest {m_ingest:.0f} req/s while it ran)")
    print(f"events stage alone: {m_events:.1f} events/s ({m_events / m_source:.4f} of smtp-source)")
    send_ratio = m_send / m_source
    print(f"send stage alone: {m_send:.1f} emails/s; ratio {send_ratio:.4f} (budget >= 0.5)")
    if statuses:
        print(f"messages of this run not 'sent': {statuses}")
    if errors:
        print("worker log lines with errors (last 20):\n  " + errors.replace("\n", "\n  "))
    incomplete = any(not s.complete for r in rounds for s in (r.end_to_end, r.events, r.send))
    ratio = m_e2e / m_source if m_source else 0.0
    verdict = "met" if ratio >= 0.3 else "NOT met"
    print(f"end to end / smtp-source: {ratio:.4f} (budget >= 0.3: {verdict})")
    print(f"ratio={ratio:.4f}")
    return 1 if incomplete else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--contacts", type=int, default=2000, help="new contacts per stage")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--source-messages",
        type=int,
        default=0,
        help="smtp-source messages a round (0: max(2000, contacts))",
    )
    parser.add_argument(
        "--timeout", type=float, default=0.0, help="seconds a stage may take (0: 60 + contacts/5)"
    )
    parser.add_argument("--quick", action="store_true", help="1 round of 300 contacts")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="py-spy every worker during the events and send stages (raw "
        "collapsed stacks into DIR; needs py-spy, e.g. pip install py-spy)",
    )
    add_world_arguments(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.contacts = 1, 300
    if min(args.contacts, args.rounds, args.workers, args.clients) < 1:
        parser.error("--contacts, --rounds, --workers and --clients must be at least 1")
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
