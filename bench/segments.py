"""Per-contact segment evaluation budget (issue 3): a realistic 10-clause rule must take
well under 1 ms for a contact with ~200 events and ~50 email engagements.

Times `evaluate` of that rule against a baseline of a single `{property: x, eq: y}` clause
on the same facts, in alternating rounds so machine noise hits both; each round's time per
call is one sample, and the medians are compared. Every clause of the 10-clause rule holds,
so none is skipped by short-circuiting. The last line printed is
`ratio=<10-clause median / 1-clause median>`.

    python -m bench.segments [--rounds N] [--calls N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from connector.engine.facts import ContactFacts, EngagementFact, EventFact
from connector.engine.rules import Rule, bucket_of, evaluate, parse_rule_text, recheck_at

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
BUDGET_US = 1000.0

TEN_CLAUSES = """
all:
  - {property: lifecyclestage, in: [customer, opportunity]}
  - {property: amount, gt: 50}
  - {property: signup, within_last: 365d}
  - {property: address.country, eq: DE}
  - {event: order.completed, at_least: 2, within: 90d, where: {total: {gt: 20}}}
  - {event: product.viewed, within: 7d, where: {category: shoes}}
  - {not: {event: checkout.started, within: 1d}}
  - {opened: any, within: 30d}
  - {clicked: {template: first-offer, link: "https://example.com/products/*"}, within: 60d}
  - {any: [{in_list: newsletter}, {bucket: {lt: 50}, salt: exp-1}]}
"""
ONE_CLAUSE = "{property: lifecyclestage, eq: customer}"
EVENT_NAMES = ("order.completed", "product.viewed", "cart.updated", "checkout.started")


def realistic_facts(rng: random.Random) -> ContactFacts:
    """~200 events over a year and ~50 engagements, oldest first, as the loader gives them."""
    events = []
    for _ in range(200):
        name = rng.choice(EVENT_NAMES)
        at = NOW - timedelta(minutes=rng.randrange(2 * 60, 365 * 24 * 60))
        props = {"total": f"{rng.uniform(5, 300):.2f}", "category": rng.choice(["shoes", "hats"]),
                 "items": [{"sku": f"S{rng.randrange(100)}", "qty": 1}]}  # fmt: skip
        events.append(EventFact(name, at, props))
    events.append(EventFact("product.viewed", NOW - timedelta(days=1), {"category": "shoes"}))
    engagements = []
    for _ in range(50):
        action = rng.choice(("open", "click"))
        template = rng.choice(("first-offer", "welcome-1", "bf-1"))
        url = f"https://example.com/products/{rng.randrange(50)}" if action == "click" else None
        at = NOW - timedelta(hours=rng.randrange(1, 90 * 24))
        engagements.append(EngagementFact(action, at, template, "welcome", "s1", None, url))  # type: ignore[arg-type]
    contact_id = next(i for i in range(1000) if bucket_of(i, "exp-1") < 50)
    return ContactFacts(
        email="bench@example.com",
        suppressed=False,
        properties={
            "lifecyclestage": "customer",
            "amount": "59.00",
            "signup": str(int((NOW - timedelta(days=100)).timestamp() * 1000)),
            "address": {"country": "DE", "city": "Berlin"},
            "firstname": "Ada",
            **{f"custom_{i}": str(i) for i in range(60)},
        },
        contact_id=contact_id,
        events=tuple(sorted(events, key=lambda e: e.at)),
        engagements=tuple(sorted(engagements, key=lambda e: e.at)),
        lists=frozenset({"customers", "vip-import"}),  # not the newsletter: the bucket decides
    )


def per_call_us(call: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=201)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()

    facts = realistic_facts(random.Random(3))
    ten: Rule = parse_rule_text(TEN_CLAUSES, "bench")
    one: Rule = parse_rule_text(ONE_CLAUSE, "bench")
    assert evaluate(ten, facts, NOW) and evaluate(one, facts, NOW), "every clause must hold"

    samples: dict[str, list[float]] = {"ten": [], "one": [], "recheck": []}
    for _ in range(10):  # warm-up
        evaluate(ten, facts, NOW)
    for _ in range(args.rounds):
        samples["ten"].append(per_call_us(lambda: evaluate(ten, facts, NOW), args.calls))
        samples["one"].append(per_call_us(lambda: evaluate(one, facts, NOW), args.calls))
        samples["recheck"].append(per_call_us(lambda: recheck_at(ten, facts, NOW), args.calls // 4))
    ten_us, one_us = statistics.median(samples["ten"]), statistics.median(samples["one"])
    recheck_us = statistics.median(samples["recheck"])
    print(f"facts: {len(facts.events)} events, {len(facts.engagements)} engagements")
    print(f"rounds={args.rounds} calls/round={args.calls}")
    print(f"1-clause evaluate median: {one_us:.2f} us")
    print(f"10-clause evaluate median: {ten_us:.2f} us")
    print(f"10-clause recheck_at median: {recheck_us:.2f} us")
    verdict = "yes" if ten_us < BUDGET_US else "NO"
    print(f"10-clause under the {BUDGET_US / 1000:g} ms budget: {verdict}")
    print(f"ratio={ten_us / one_us:.2f}")


if __name__ == "__main__":
    main()
