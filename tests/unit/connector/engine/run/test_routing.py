"""Splits and holdouts: stable per contact, independent per step, close to their weights."""

from __future__ import annotations

from collections import Counter

from connector.engine.flows import HoldoutStep, SendStep, SplitStep, SplitVariant
from connector.engine.run import Exit, Jump, decide
from tests.unit.connector.engine.factories import NOW, facts, make_flow, state

CONTACTS = range(1, 10_001)
A_B = SplitStep("ab", (SplitVariant("a", 50, "send-a"), SplitVariant("b", 50, "send-b")))
SENDS = (SendStep("send-a", "a"), SendStep("send-b", "b"), SendStep("send-c", "c"))


def variant(flow: object, contact_id: int) -> str:
    decision = decide(flow, state(), facts(contact_id=contact_id), NOW)  # type: ignore[arg-type]
    assert isinstance(decision, Jump)
    return decision.reason.removeprefix("split: ")


def test_split_is_stable_per_contact_and_goes_to_the_variants_step() -> None:
    flow = make_flow(A_B, *SENDS)
    first = [variant(flow, c) for c in range(1, 200)]
    assert first == [variant(flow, c) for c in range(1, 200)]
    decision = decide(flow, state(), facts(contact_id=7), NOW)
    assert decision == Jump("ab", 1 if first[6] == "a" else 2, f"split: {first[6]}")


def test_split_weights_over_ten_thousand_contacts() -> None:
    even = Counter(variant(make_flow(A_B, *SENDS), c) for c in CONTACTS)
    assert abs(even["a"] - 5000) < 250

    weighted = SplitStep(
        "abc",
        (
            SplitVariant("a", 1, "send-a"),
            SplitVariant("b", 3, "send-b"),
            SplitVariant("c", 0.5, "send-c"),
        ),
    )
    counts = Counter(variant(make_flow(weighted, *SENDS), c) for c in CONTACTS)
    assert set(counts) == {"a", "b", "c"}
    for name, weight in (("a", 1), ("b", 3), ("c", 0.5)):
        assert abs(counts[name] - 10_000 * weight / 4.5) < 250


def test_splits_of_different_flows_or_steps_are_independent() -> None:
    one = make_flow(A_B, *SENDS, key="one")
    two = make_flow(A_B, *SENDS, key="two")
    agree = sum(variant(one, c) == variant(two, c) for c in CONTACTS)
    assert abs(agree - 5000) < 250


def test_holdout_keeps_its_share_out_stably() -> None:
    flow = make_flow(HoldoutStep("control", 10, "control"), SendStep("offer", "offer"))
    outcomes = {c: decide(flow, state(), facts(contact_id=c), NOW) for c in CONTACTS}
    held = [c for c, d in outcomes.items() if isinstance(d, Exit)]
    assert abs(len(held) - 1000) < 150
    assert all(outcomes[c] == Exit("control", "holdout:control") for c in held)
    passed = [d for d in outcomes.values() if not isinstance(d, Exit)]
    assert set(passed) == {Jump("control", 1, "holdout passed: control")}
    again = [
        c for c in CONTACTS if isinstance(decide(flow, state(), facts(contact_id=c), NOW), Exit)
    ]
    assert again == held
