"""The trigger latency benches' shared end: wait for the emails, match each to its start
time by recipient, and report p50/p99/max against the budget with the `ratio=` line.

Used by bench/trigger_latency.py (POST -> email) and bench/hubspot_latency.py (contact
created in HubSpot -> email); both time up to the mtime of the sink's dump file.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from bench.ingest import percentile
from bench.smtp_tools import SmtpSink, read_dump
from bench.world import World

BUDGET_P50_MS = 250.0
BUDGET_P99_MS = 1000.0


def wait_for_emails(world: World, sink: SmtpSink, expected: int, deadline: float) -> float:
    """Wait until the sink has `expected` emails or `deadline` passes (a dead worker
    raises); returns when the wait ended, the time a missing email counts to."""
    while sink.accepted < expected and time.time() < deadline:
        world.check_workers()
        time.sleep(0.1)
    return time.time()


def arrivals(sink: SmtpSink) -> dict[str, float]:
    """Recipient (lower case) -> when the sink finished receiving its first email."""
    arrived: dict[str, float] = {}
    for path in sink.dumps():
        message = read_dump(path)
        for recipient in message.recipients:
            arrived.setdefault(recipient.lower(), message.accepted_at)
    return arrived


def latencies(
    started: Mapping[str, float], arrived: Mapping[str, float], waited_until: float
) -> tuple[list[float], int]:
    """Seconds from each email's start to its arrival, and how many never arrived (those
    count to `waited_until`)."""
    out, missing = [], 0
    for email, at in started.items():
        if email in arrived:
            out.append(arrived[email] - at)
        else:
            missing += 1
            out.append(waited_until - at)
    return out, missing


def report(latencies: list[float], missing: int, start: str, errors: str) -> None:
    """p50, p99 and max from `start` to the sink, the verdict, worker errors, `ratio=`."""
    bound = " (lower bounds: missing emails count to the end of the wait)" if missing else ""
    p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
    top = max(latencies, default=float("nan")) * 1000
    print(
        f"latency {start} -> accepted by the sink: p50 {p50:,.0f} ms, p99 {p99:,.0f} ms, "
        f"max {top:,.0f} ms{bound}"
    )
    print(
        f"budget p50 < {BUDGET_P50_MS:.0f} ms: {'met' if p50 < BUDGET_P50_MS else 'NOT met'}; "
        f"p99 < {BUDGET_P99_MS:.0f} ms: {'met' if p99 < BUDGET_P99_MS else 'NOT met'}"
    )
    if errors:
        print("worker log lines with errors (last 20):\n  " + errors.replace("\n", "\n  "))
    print(f"ratio={p99 / BUDGET_P99_MS:.3f}")
