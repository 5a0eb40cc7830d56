"""Routing kinds: branch on rules, weighted A/B split, holdout.

Splits and holdouts hash (contact id, flow key, step id), so a contact always lands on the
same side of a given step, and different steps are independent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from connector.engine.flows.steps import StepBase
from connector.engine.rules import Rule, rule_from_dict, rule_to_dict


@dataclass(frozen=True)
class BranchCase:
    condition: Rule
    goto: str


@dataclass(frozen=True)
class BranchStep(StepBase):
    """Go to the first case whose condition holds, else to `otherwise`, else on."""

    id: str
    cases: tuple[BranchCase, ...]
    otherwise: str | None = None
    kind: ClassVar[str] = "branch"

    def __post_init__(self) -> None:
        object.__setattr__(self, "cases", tuple(self.cases))

    def jumps(self) -> tuple[str, ...]:
        targets = tuple(case.goto for case in self.cases)
        return targets if self.otherwise is None else (*targets, self.otherwise)

    def falls_through(self) -> bool:
        return self.otherwise is None

    def to_dict(self) -> dict[str, Any]:
        cases = [{"if": rule_to_dict(c.condition), "goto": c.goto} for c in self.cases]
        return {"kind": self.kind, "id": self.id, "cases": cases, "else": self.otherwise}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BranchStep:
        cases = tuple(BranchCase(rule_from_dict(c["if"]), c["goto"]) for c in data["cases"])
        return cls(id=data["id"], cases=cases, otherwise=data["else"])


@dataclass(frozen=True)
class SplitVariant:
    name: str
    weight: float
    goto: str


@dataclass(frozen=True)
class SplitStep(StepBase):
    """A/B split: each contact goes, stably, to one variant; weights are relative."""

    id: str
    variants: tuple[SplitVariant, ...]
    kind: ClassVar[str] = "split"

    def __post_init__(self) -> None:
        object.__setattr__(self, "variants", tuple(self.variants))
        if not self.variants or any(v.weight <= 0 for v in self.variants):
            raise ValueError(f"step {self.id!r}: a split needs variants of positive weight")

    def jumps(self) -> tuple[str, ...]:
        return tuple(v.goto for v in self.variants)

    def falls_through(self) -> bool:
        return False

    def to_dict(self) -> dict[str, Any]:
        variants = [{"name": v.name, "weight": v.weight, "goto": v.goto} for v in self.variants]
        return {"kind": self.kind, "id": self.id, "variants": variants}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SplitStep:
        variants = [SplitVariant(v["name"], v["weight"], v["goto"]) for v in data["variants"]]
        return cls(id=data["id"], variants=tuple(variants))


@dataclass(frozen=True)
class HoldoutStep(StepBase):
    """Keep `percent` of contacts (stably) out of the rest of the flow, to measure lift."""

    id: str
    percent: float
    name: str = "control"
    kind: ClassVar[str] = "holdout"

    def __post_init__(self) -> None:
        if not 0 < self.percent < 100:
            raise ValueError(f"step {self.id!r}: a holdout percent must be between 0 and 100")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "percent": self.percent, "name": self.name}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HoldoutStep:
        return cls(id=data["id"], percent=data["percent"], name=data["name"])
