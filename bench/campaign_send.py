"""Campaign send budget (issue 10): a 20,000-recipient campaign into Postfix's smtp-sink.

A bench/world.py world (embedded Redis, a SQLite file or `--postgres`, one account) gets
N contacts on a static list, each with a purchase history in its properties (`orders`:
the last items bought; campaign emails have no trigger event, so the dynamic block reads
the contact's properties), and a campaign of a bench template: the repo's MJML layout,
a greeting, the products last bought (items_table), a block that differs for customers
and first-timers, two product cards; HTML + text, tracked links with UTM, unsubscribe
headers. `start_campaign` (this process) freezes the audience and queues the first
advance; one `connector worker` per core runs the real advance/send jobs into smtp-sink.
Timed from start_campaign to the sink's N-th message (the freeze alone printed too).

The yardstick is `smtp-source -s <workers>` sending messages of the campaign email's wire
size (measured on a warm-up campaign dumped by a second sink, as bench/pipeline.py does)
into the same sink, in the same round.

`--profile` runs one more campaign's advances in this process under cProfile (the same
jobs a worker runs: advance_campaign -> deliver_messages -> SMTP) and prints the top
frames.

Last line: `ratio=<median campaign msgs/s / median smtp-source msgs/s>` (budget >= 0.5).

    python -m bench.campaign_send [--recipients 20000] [--rounds 3] [--quick] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import statistics
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):  # run as `python bench/campaign_send.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.ingest import free_port
from bench.smtp_tools import SmtpSink, ensure_tools, read_dump, smtp_source, source_length
from bench.world import REPO, World, add_world_arguments, load_line, wait_until
from bench.writeback import print_profile

if TYPE_CHECKING:
    from connector.runtime import Runtime

WARMUP = 20
INSERT_CHUNK = 5000  # contacts per transaction while building the audience
BENCH_TEMPLATE = "bench-campaign"
PRODUCTS = [
    ("Speckled Mug", 14.0), ("Linen Notebook", 16.0), ("Oolong Tea, 100 g", 9.5),
    ("Stoneware Bowl", 22.0), ("Fountain Pen", 38.0), ("Tea Towel", 7.5),
    ("Glaze Sampler", 18.0), ("Desk Calendar", 12.0),
]

BODY = """\
{% extends "_layouts/base.mjml" %}
{#- bench/campaign_send.py: the dynamic block is the contact's purchase history
    (`orders` in its properties: campaign emails have no trigger event). -#}
{% block preview %}20% off until Sunday, and a restock of what you bought last.{% endblock %}
{% block content %}
{% import "_partials/blocks.mjml" as ui %}
<mj-section padding="0">
  <mj-column>
    <mj-text font-size="24px" font-weight="700" color="#111827">The spring sale is on</mj-text>
    <mj-text>Hi {{ contact.firstname | default("there", true) }}, until Sunday at midnight \
everything at {{ company.name }} is <strong>20% off</strong>.</mj-text>
    {{ ui.code_box("SPRING20", "Enter it at checkout. Valid until Sunday, 23:59.") }}
{% if contact.orders %}
    <mj-text>Your last {{ contact.orders | length }} orders, all back in stock:</mj-text>
    {{ ui.items_table(contact.orders, "USD", contact.lifetime_value, "Spent with us") }}
    <mj-button href="https://example.com/account/orders">Order them again</mj-button>
{% else %}
    <mj-text>Never ordered from us? Delivery is free on orders over $40 this week.</mj-text>
    <mj-button href="https://example.com/shop">Start shopping</mj-button>
{% endif %}
  </mj-column>
</mj-section>
<mj-section padding="4px 24px 8px">
  {{ ui.product_card("Speckled Mug", "https://example.com/products/speckled-mug", "$11.20", \
"Our classic shape in a speckled oatmeal glaze.") }}
  {{ ui.product_card("Linen Notebook", "https://example.com/products/linen-notebook", \
"$12.80", "Lies flat, takes fountain-pen ink.") }}
</mj-section>
{% endblock %}
"""
SUBJECT = "{{ contact.firstname | default('Hello', true) }}, the spring sale is on"


def campaign_yaml(key: str, audience: str) -> str:
    return (f"name: Bench {key}\ntemplate: {BENCH_TEMPLATE}\naudience:\n"
            f"  {audience}\nutm:\n  source: drip\n  medium: email\n")


def orders_of(n: int) -> list[dict[str, Any]]:
    """Contact n's purchase history: none for one in four, else one to four items."""
    count = n % 4
    return [{"name": PRODUCTS[(n + k) % len(PRODUCTS)][0], "quantity": 1 + (n + k) % 2,
             "price": PRODUCTS[(n + k) % len(PRODUCTS)][1],
             "url": f"https://example.com/products/{(n + k) % len(PRODUCTS)}"}
            for k in range(count)]


def deploy_campaigns(rt: Runtime, account_id: int, keys: list[str],
                     audience: str | None = None) -> None:
    """The repo's flows, segments and templates, the bench template, and a campaign per
    key: to `audience` (a line of YAML, `segment: vip`), else to the list of that key."""
    from connector.workspaces import deploy_files, read_workspace

    files = read_workspace(REPO / "flows", REPO / "segments", REPO / "templates")
    files[f"templates/{BENCH_TEMPLATE}/body.mjml"] = BODY
    files[f"templates/{BENCH_TEMPLATE}/subject.txt"] = SUBJECT
    for key in keys:
        files[f"campaigns/{key}.yaml"] = campaign_yaml(key, audience or f"list: {key}")
    deploy_files(rt.db, rt.settings, account_id, files, now=rt.clock.now())
    rt.workspaces.forget(account_id)


def add_audience(rt: Runtime, account_id: int, list_key: str, count: int) -> float:
    """`count` contacts with purchase histories on the list `list_key`; returns seconds."""
    from sqlalchemy import insert, select

    from connector.models import Contact, ListMembership

    started = time.perf_counter()
    now = rt.clock.now()
    for chunk in range(0, count, INSERT_CHUNK):
        numbers = range(chunk, min(count, chunk + INSERT_CHUNK))
        with rt.db.session() as session:
            rows = []
            for n in numbers:
                orders = orders_of(n)
                rows.append({
                    "account_id": account_id, "email": f"{list_key}-{n}@example.com",
                    "properties": {
                        "firstname": f"Reader{n}", "lastname": "Lee",
                        "lifecyclestage": "customer" if orders else "lead", "orders": orders,
                        "lifetime_value": round(sum(o["price"] * o["quantity"]
                                                    for o in orders), 2),
                    },
                    "created_at": now, "updated_at": now,
                })
            session.execute(insert(Contact), rows)
            ids = session.scalars(select(Contact.id).where(
                Contact.account_id == account_id,
                Contact.email.in_([r["email"] for r in rows]))).all()
            session.execute(insert(ListMembership), [
                {"account_id": account_id, "contact_id": i, "list_key": list_key,
                 "added_at": now} for i in ids])
    return time.perf_counter() - started


def bench_runtime(world: World) -> Runtime:
    from connector.runtime import build_runtime
    from connector.settings import load_settings

    rt = build_runtime(load_settings(**world.values), redis_url=world.redis_url)
    world.callback(rt.close)
    return rt


@dataclass
class Send:
    sent: int
    expected: int
    elapsed: float
    freeze: float

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0


def send_campaign(world: World, rt: Runtime, sink: SmtpSink, key: str, size: int,
                  timeout: float) -> Send:
    """start_campaign with the workers already registered; until the sink has `size`."""
    from connector.services.campaigns import start_campaign

    before = sink.accepted
    started = time.perf_counter()
    start_campaign(rt, world.account_id, key)
    frozen = time.perf_counter() - started
    deadline = time.monotonic() + timeout
    while not sink.wait_for(before + size, 1.0, poll=0.01):
        world.check_workers()
        if time.monotonic() > deadline:
            break
    return Send(sink.accepted - before, size, time.perf_counter() - started, frozen)


def measure_length(world: World, rt: Runtime, dump_sink: SmtpSink, timeout: float) -> int:
    """smtp-source's -l for the campaign email's wire size (a warm-up campaign dumped)."""
    world.start_workers(mail_url=dump_sink.url)
    send_campaign(world, rt, dump_sink, "warm", WARMUP, timeout)
    world.stop_workers()
    dumps = dump_sink.dumps()
    if len(dumps) < WARMUP:
        raise RuntimeError(f"warm-up: {len(dumps)}/{WARMUP} emails reached the sink; worker "
                           f"errors:\n{world.worker_logs()}")
    sample = read_dump(dumps[0])
    assert sample.recipients and sample.recipients[0].startswith("warm-"), sample
    wire, overhead, length = source_length(dump_sink, dumps)
    print(f"campaign email on the wire: {wire:,} bytes (median of {len(dumps)}); smtp-source "
          f"adds {overhead} bytes of headers, so -l {length:,}", flush=True)
    return length


def profile_advances(world: World, rt: Runtime, sink: SmtpSink, key: str, size: int) -> str:
    """Every advance of campaign `key` run here under cProfile; returns the dump's path."""
    from connector.services.campaigns import advance_campaign, start_campaign

    campaign_id = start_campaign(rt, world.account_id, key)
    rt.redis.flushdb()  # the queued advance: this process runs them instead
    profiler = cProfile.Profile()
    before = sink.accepted
    profiler.enable()
    while advance_campaign(rt, campaign_id).outcome == "advanced":
        pass
    profiler.disable()
    wait_until(lambda: sink.accepted >= before + size, 10.0)
    path = str(world.tmp / "advance.prof")
    profiler.dump_stats(path)
    return path


def run(args: argparse.Namespace) -> int:
    ensure_tools()
    timeout = args.timeout or 60.0 + args.recipients / 20
    keys = [f"c{n}" for n in range(1, args.rounds + 1)]
    print(f"bench/campaign_send.py: {args.recipients:,} recipients a campaign, {args.rounds} "
          f"round(s); {args.workers} connector worker(s) on "
          f"{' '.join(args.queues) or 'all queues'}; "
          f"{'PostgreSQL' if args.postgres else 'SQLite'}; {load_line()}", flush=True)
    rounds: list[tuple[float, Send]] = []
    with World(args, prefix="bench-campaign-", provider="local") as world:
        rt = bench_runtime(world)
        lists = ["warm", *keys] + (["prof"] if args.profile else [])
        deploy_campaigns(rt, world.account_id, lists)
        built = add_audience(rt, world.account_id, "warm", WARMUP)
        for key in keys:
            built += add_audience(rt, world.account_id, key, args.recipients)
        print(f"{len(keys) * args.recipients:,} contacts with orders stored in {built:.1f}s",
              flush=True)
        sink = world.enter_context(SmtpSink(free_port()))
        dump_sink = world.enter_context(SmtpSink(free_port(), dump=True))
        length = measure_length(world, rt, dump_sink, timeout)
        source_messages = args.source_messages or args.recipients
        for number, key in enumerate(keys, 1):
            source = smtp_source(sink, messages=source_messages, size=length,
                                 sessions=args.workers)
            world.start_workers(mail_url=sink.url, queues=args.queues, ticker=not args.queues)
            send = send_campaign(world, rt, sink, key, args.recipients, timeout)
            world.stop_workers()
            rounds.append((source.rate, send))
            note = "" if send.sent >= send.expected else (
                f" (TIMED OUT at {send.sent}/{send.expected})")
            print(f"round {number}: smtp-source {source.rate:,.0f} msgs/s ({source_messages:,}"
                  f" msgs, -s {args.workers}); campaign {send.rate:,.1f} msgs/s{note} "
                  f"({send.elapsed:.1f}s, the audience freeze {send.freeze:.2f}s of it)",
                  flush=True)
        unsent = world.scalar("SELECT count(*) FROM messages WHERE account_id = :a AND "
                              "status <> 'sent'", a=world.account_id)
        errors = world.worker_logs()
        if args.profile:
            size = min(args.recipients, 2000)
            add_audience(rt, world.account_id, "prof", size)
            dump = profile_advances(world, rt, sink, "prof", size)
            print_profile([dump], f"one process's advances of a {size:,}-recipient campaign")
    m_source = statistics.median(r[0] for r in rounds)
    m_send = statistics.median(r[1].rate for r in rounds)
    print(f"medians over {len(rounds)} round(s); {load_line()}")
    print(f"smtp-source (-l {length}, -s {args.workers}) into smtp-sink: {m_source:,.0f} msgs/s")
    print(f"campaign ({args.workers} workers): {m_send:,.1f} msgs/s")
    if unsent:
        print(f"messages of this run not 'sent': {unsent}")
    if errors:
        print("worker log lines with errors (last 20):\n  " + errors.replace("\n", "\n  "))
    ratio = m_send / m_source if m_source else 0.0
    print(f"campaign / smtp-source: {ratio:.4f} (budget >= 0.5: "
          f"{'met' if ratio >= 0.5 else 'NOT met'})")
    print(f"ratio={ratio:.4f}")
    return 1 if any(s.sent < s.expected for _, s in rounds) else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--source-messages", type=int, default=0,
                        help="smtp-source messages a round (0: as many as recipients)")
    parser.add_argument("--timeout", type=float, default=0.0,
                        help="seconds a campaign may take (0: 60 + recipients/20)")
    parser.add_argument("--quick", action="store_true", help="1 round of 1,000 recipients")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile one more campaign's advances in this process")
    parser.add_argument("--queues", nargs="*", default=[],
                        help="queues the timed workers serve, no ticker (default: all, ticking,"
                        " as `connector serve` runs them: the CRM writebacks each email queues"
                        " are worked too); `--queues send`: the send path alone")
    add_world_arguments(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.recipients = 1, 1000
    if min(args.recipients, args.rounds, args.workers) < 1:
        parser.error("--recipients, --rounds and --workers must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        return run(parse_args(argv))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
