"""Every step and trigger kind is wired everywhere: YAML syntax, execution, matching."""

from __future__ import annotations

from connector.engine.entry import trigger_matches
from connector.engine.flows import STEP_KINDS, TRIGGER_KINDS
from connector.engine.loader import STEP_KINDS_BY_KEY, STEP_SYNTAX, TRIGGER_SYNTAX
from connector.engine.run.steps import run_step


def test_every_step_kind_can_be_written_and_run() -> None:
    assert set(STEP_KINDS_BY_KEY) == set(STEP_SYNTAX)
    assert {kind for kinds in STEP_KINDS_BY_KEY.values() for kind in kinds} == set(STEP_KINDS)
    assert set(STEP_KINDS.values()) <= set(run_step.registry)


def test_every_trigger_kind_can_be_written_and_matched() -> None:
    assert set(TRIGGER_SYNTAX) == set(TRIGGER_KINDS)
    assert set(TRIGGER_KINDS.values()) <= set(trigger_matches.registry)


def test_kinds_are_registered_under_their_own_tag() -> None:
    assert all(kind.kind == tag for tag, kind in STEP_KINDS.items())
    assert all(kind.kind == tag for tag, kind in TRIGGER_KINDS.items())
