"""One decision handler per step kind, registered on `run_step`.

Handlers are pure: they read the step, the enrollment's state, the contact's facts, the
time and the policy from a StepContext and return one Decision.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import singledispatch

from connector.engine.common import (
    MISSING,
    date_target,
    lookup,
    next_local_time,
    parse_date_value,
    quiet_until,
    resolve_where,
    thaw,
    where_matches,
    zone,
)
from connector.engine.facts import ContactFacts, SendFact
from connector.engine.flows import (
    BranchStep,
    CreateTaskStep,
    ExitStep,
    Flow,
    GotoStep,
    HoldoutStep,
    SendStep,
    SplitStep,
    Step,
    UpdatePropertyStep,
    WaitForStep,
    WaitStep,
    WaitUntilDateStep,
    WaitUntilStep,
    WebhookStep,
)
from connector.engine.rules import evaluate
from connector.engine.run.decisions import (
    EXIT_STEP,
    EXIT_WAIT_TIMEOUT,
    HOLDOUT_PREFIX,
    SLEEP_FREQUENCY_CAP,
    SLEEP_QUIET_HOURS,
    SLEEP_WAIT,
    SLEEP_WAIT_FOR,
    SLEEP_WAIT_UNTIL,
    CallWebhook,
    CreateTask,
    Decision,
    EnrollmentState,
    Exit,
    Jump,
    Policy,
    Send,
    Sleep,
    UpdateProperty,
)


@dataclass(frozen=True)
class StepContext:
    """Everything a handler may read."""

    flow: Flow
    state: EnrollmentState
    facts: ContactFacts
    now: datetime  # in UTC
    policy: Policy

    @property
    def cursor(self) -> int:
        return self.state.cursor

    @property
    def tz(self) -> tzinfo:
        return zone(self.facts.timezone)

    @property
    def started(self) -> datetime:
        return self.state.step_started_at or self.now

    def at(self, step_id: str) -> int:
        return self.flow.step_index(step_id)


@singledispatch
def run_step(step: Step, ctx: StepContext) -> Decision:
    """The decision for one step kind; one registered handler per kind."""
    raise TypeError(f"no handler for step kind {type(step).__name__}")


def stable_fraction(contact_id: int, flow_key: str, step_id: str) -> float:
    """A number in [0, 1) fixed for (contact, flow, step): splits and holdouts use it."""
    digest = hashlib.sha256(f"{contact_id}:{flow_key}:{step_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def frequency_cap_until(
    sends: tuple[SendFact, ...], limit: int, window: timedelta, now: datetime
) -> datetime | None:
    """When a marketing send fits under the cap again, or None if it fits now.

    Counts non-transactional sends in (now - window, now]; the answer is when enough of the
    oldest have left the window to make room for one more.
    """
    counted = sorted(s.at for s in sends if not s.transactional and s.at > now - window)
    if len(counted) < limit:
        return None
    return counted[len(counted) - limit] + window


def send_blocked(ctx: StepContext) -> tuple[datetime, str] | None:
    """(until, reason) when a marketing send must wait for the cap or for quiet hours."""
    settings = ctx.flow.settings
    if settings.transactional:
        return None
    until, reason = ctx.now, None
    if settings.frequency_cap and ctx.policy.frequency_cap is not None:
        limit, window = ctx.policy.frequency_cap
        capped = frequency_cap_until(ctx.facts.sends, limit, window, ctx.now)
        if capped is not None:
            until, reason = capped, SLEEP_FREQUENCY_CAP
    if settings.quiet_hours is not None:
        quiet = settings.quiet_hours
        # Checked at the time the cap lets the send go: one wake-up, not two.
        end = quiet_until(until, ctx.tz, quiet.start, quiet.end)
        if end is not None:
            until, reason = end, reason or SLEEP_QUIET_HOURS
    return None if reason is None else (until.astimezone(UTC), reason)


@run_step.register
def _send(step: SendStep, ctx: StepContext) -> Decision:
    blocked = send_blocked(ctx)
    if blocked is not None:
        return Sleep(step.id, blocked[0], ctx.cursor, blocked[1])
    return Send(step.id, step.template, step.subject, step.sender, ctx.cursor + 1)


@run_step.register
def _wait(step: WaitStep, ctx: StepContext) -> Decision:
    # Elapsed time, in UTC: Python adds to (and compares) datetimes of one zone by wall
    # clock, so in a DST zone `now + 1 day` would be 23 or 25 real hours.
    return Sleep(step.id, ctx.now + step.duration, ctx.cursor + 1, SLEEP_WAIT)


@run_step.register
def _wait_until(step: WaitUntilStep, ctx: StepContext) -> Decision:
    until = next_local_time(ctx.now, ctx.tz, step.at, step.weekdays)
    return Sleep(step.id, until, ctx.cursor + 1, SLEEP_WAIT_UNTIL)


@run_step.register
def _wait_until_date(step: WaitUntilDateStep, ctx: StepContext) -> Decision:
    if step.property is not None:
        label, raw = f"property {step.property}", ctx.facts.properties.get(step.property, MISSING)
    else:
        assert step.event_property is not None
        event = ctx.state.context.get("event") or {}
        label, raw = f"event_property {step.event_property}", lookup(event, step.event_property)
    if raw is MISSING or raw is None or raw == "":
        return Jump(step.id, ctx.cursor + 1, f"date missing: {label}")
    value = parse_date_value(raw)
    if value is None:
        return Jump(step.id, ctx.cursor + 1, f"date unreadable: {label} = {raw!r}")
    try:
        until = date_target(value, ctx.tz, step.offset, step.at, step.years)
    except OverflowError:  # dates at the edge of the calendar (year 1 or 9999)
        return Jump(step.id, ctx.cursor + 1, f"date unreadable: {label} = {raw!r}")
    if until <= ctx.now:
        return Jump(step.id, ctx.cursor + 1, f"date passed: {label}")
    return Sleep(step.id, until, ctx.cursor + 1, SLEEP_WAIT_UNTIL)


@run_step.register
def _wait_for(step: WaitForStep, ctx: StepContext) -> Decision:
    if _wait_met(step, ctx):
        return Jump(step.id, ctx.cursor + 1, f"wait for met: {step.waiting_for}")
    deadline = ctx.started.astimezone(UTC) + step.timeout
    if ctx.now < deadline:
        return Sleep(step.id, deadline, ctx.cursor, SLEEP_WAIT_FOR, step.waiting_for)
    if step.on_timeout == "exit":
        return Exit(step.id, EXIT_WAIT_TIMEOUT)
    target = ctx.cursor + 1 if step.on_timeout == "next" else ctx.at(step.on_timeout)
    return Jump(step.id, target, f"wait for timeout: {step.waiting_for}")


def _wait_met(step: WaitForStep, ctx: StepContext) -> bool:
    if step.segment is not None:
        return step.segment in ctx.facts.segments
    where = resolve_where(step.where, ctx.state.context.get("event") or {})
    started = ctx.state.entered_at if step.since == "entry" else ctx.started
    return any(
        event.name == step.event
        and started <= event.at <= ctx.now
        and where_matches(where, event.properties)
        for event in ctx.facts.events
    )


@run_step.register
def _branch(step: BranchStep, ctx: StepContext) -> Decision:
    for number, case in enumerate(step.cases, start=1):
        if evaluate(case.condition, ctx.facts, ctx.now):
            return Jump(step.id, ctx.at(case.goto), f"branch: case {number}")
    if step.otherwise is not None:
        return Jump(step.id, ctx.at(step.otherwise), "branch: else")
    return Jump(step.id, ctx.cursor + 1, "branch: no match")


@run_step.register
def _split(step: SplitStep, ctx: StepContext) -> Decision:
    point = stable_fraction(ctx.facts.contact_id, ctx.flow.key, step.id)
    point *= sum(variant.weight for variant in step.variants)
    for variant in step.variants:
        point -= variant.weight
        if point < 0:
            break
    return Jump(step.id, ctx.at(variant.goto), f"split: {variant.name}")


@run_step.register
def _holdout(step: HoldoutStep, ctx: StepContext) -> Decision:
    if stable_fraction(ctx.facts.contact_id, ctx.flow.key, step.id) * 100 < step.percent:
        return Exit(step.id, f"{HOLDOUT_PREFIX}{step.name}")
    return Jump(step.id, ctx.cursor + 1, f"holdout passed: {step.name}")


@run_step.register
def _update_property(step: UpdatePropertyStep, ctx: StepContext) -> Decision:
    return UpdateProperty(step.id, step.property, step.value, ctx.cursor + 1)


@run_step.register
def _create_task(step: CreateTaskStep, ctx: StepContext) -> Decision:
    return CreateTask(step.id, step.subject, step.body, step.due_in, ctx.cursor + 1)


@run_step.register
def _webhook(step: WebhookStep, ctx: StepContext) -> Decision:
    return CallWebhook(step.id, step.url, thaw(step.body), ctx.cursor + 1)  # JSON-ready


@run_step.register
def _goto(step: GotoStep, ctx: StepContext) -> Decision:
    return Jump(step.id, ctx.at(step.target), "goto")


@run_step.register
def _exit(step: ExitStep, ctx: StepContext) -> Decision:
    return Exit(step.id, step.reason or EXIT_STEP)
