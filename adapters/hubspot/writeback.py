"""Writing to HubSpot: email engagements on the contact's timeline (and their status when a
bounce follows), the app's engagement properties, property updates, tasks and opt-outs.

Every call returns one WriteResult per input, in order. Inputs become batches of 100; a
batch HubSpot refuses as a whole (400: one bad input) is split in halves until the bad
input stands alone, so the good ones still land. A retryable failure after part of the
call has landed turns the rest into retryable results instead of raising, so that a retry
of the whole call cannot write the landed part twice.

HubSpot's creates have no idempotency key. An email activity that may already have been
written (`maybe_written`: its row is on a retry) is looked for on its contact's timeline
before it is created; a batch create that got no answer is not sent again, but looked for
a few times (it may still land): what is found succeeds, the rest is handed back retryable,
and its retry looks again before creating. Tasks carry nothing of ours to look for: an
unanswered task create is handed back retryable, never re-sent in-call.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

from adapters.errors import RetryableCRMError
from adapters.hubspot.associations import EmailFinder, Sought
from adapters.hubspot.client import (
    HubSpotClient,
    HubSpotRequestError,
    Reply,
    SdkApis,
    SdkCall,
    UnansweredCreate,
)
from adapters.hubspot.contacts import BATCH_SIZE, chunks, ids_by_email
from adapters.hubspot.properties import (
    ACTIVE_FLOWS,
    CLICKS,
    LAST_CLICK_AT,
    LAST_CLICKED_LINK,
    LAST_EMAIL_SUBJECT,
    LAST_OPEN_AT,
    OPENS,
)
from adapters.port import (
    EmailActivity,
    EngagementSummary,
    OptOut,
    PropertyUpdate,
    Task,
    WriteResult,
)

EMAIL_TO_CONTACT = 198  # HubSpot-defined association types
TASK_TO_CONTACT = 204
EMAIL_STATUS = {"email_sent": "SENT", "email_failed": "FAILED", "bounced": "BOUNCED"}
# Property values hold up to 65,536 characters; a timeline entry needs far less.
TEXT_LIMIT = 20_000


class _Input(Protocol):
    @property
    def writeback_id(self) -> int: ...

    @property
    def contact_crm_id(self) -> str | None: ...

    @property
    def email(self) -> str: ...


@dataclass(frozen=True)
class Outcome:
    ok: bool
    record_id: str | None = None
    error: str | None = None
    retryable: bool = False


@dataclass
class _Unit:
    """One input of a batch request, standing for one or more of the caller's inputs."""

    key: str  # what HubSpot's answer is matched back on
    body: dict[str, Any]
    positions: list[int] = field(default_factory=list)


Send = Callable[[list[_Unit]], dict[str, Outcome]]


class Writer:
    def __init__(self, client: HubSpotClient, now: Callable[[], datetime]) -> None:
        self._client = client
        self._now = now

    def write_activities(self, activities: Sequence[EmailActivity]) -> list[WriteResult]:
        results: dict[int, WriteResult] = {}
        updates: dict[str, _Unit] = {}
        for position, activity in enumerate(activities):
            if activity.record_id is not None:
                unit = updates.setdefault(activity.record_id, _Unit(activity.record_id, {}))
                unit.body = {"id": activity.record_id,
                             "properties": {"hs_email_status": EMAIL_STATUS[activity.kind]}}
                unit.positions.append(position)
        fresh = [p for p, a in enumerate(activities) if a.record_id is None]
        contacts = self._contacts(activities, fresh, results)
        finder = EmailFinder(self._client)
        existing = finder.find([_sought(activities[p], contacts[p]) for p in fresh
                                if p in contacts and activities[p].maybe_written])
        creates = []
        for p in fresh:
            if p not in contacts:
                continue
            record_id = existing.get(_sought(activities[p], contacts[p]))
            if record_id is not None:  # an earlier attempt landed: nothing to create
                results[p] = WriteResult(activities[p].writeback_id, ok=True,
                                         record_id=record_id)
            else:
                creates.append(_Unit(str(activities[p].writeback_id),
                                     _email_input(activities[p], contacts[p]), [p]))
        _run(activities, creates, lambda units: self._send_email_creates(units, finder),
             results)
        _run(activities, list(updates.values()),
             self._send_updates("update email statuses", "emails_batch"), results)
        return _ordered(activities, results)

    def write_engagement(self, summaries: Sequence[EngagementSummary]) -> list[WriteResult]:
        return self._per_contact(summaries, lambda s: _engagement_properties(s))

    def update_properties(self, updates: Sequence[PropertyUpdate]) -> list[WriteResult]:
        return self._per_contact(updates, lambda u: dict(u.properties))

    def create_tasks(self, tasks: Sequence[Task]) -> list[WriteResult]:
        results: dict[int, WriteResult] = {}
        contacts = self._contacts(tasks, range(len(tasks)), results)
        units = [_Unit(str(tasks[p].writeback_id), self._task_input(tasks[p], contacts[p]), [p])
                 for p in range(len(tasks)) if p in contacts]
        _run(tasks, units, self._send_task_creates, results)
        return _ordered(tasks, results)

    def record_opt_outs(self, opt_outs: Sequence[OptOut]) -> list[WriteResult]:
        # One call per address: the batch endpoint needs Marketing Hub Enterprise scopes.
        results: dict[int, WriteResult] = {}
        units: dict[str, _Unit] = {}
        for position, opt_out in enumerate(opt_outs):
            email = opt_out.email.strip().lower()
            units.setdefault(email, _Unit(email, {})).positions.append(position)
        _run(opt_outs, list(units.values()), self._send_opt_out, results, size=1)
        return _ordered(opt_outs, results)

    # ---- contacts -------------------------------------------------------------------------

    def _contacts(self, inputs: Sequence[_Input], positions: Sequence[int],
                  results: dict[int, WriteResult]) -> dict[int, str]:
        """The contact id of each input at `positions` (by email when the core has none);
        an address HubSpot does not know fails its input."""
        missing = [inputs[p].email for p in positions if not inputs[p].contact_crm_id]
        known = ids_by_email(self._client, missing) if missing else {}
        found: dict[int, str] = {}
        for p in positions:
            crm_id = inputs[p].contact_crm_id or known.get(inputs[p].email.strip().lower())
            if crm_id:
                found[p] = crm_id
            else:
                results[p] = WriteResult(inputs[p].writeback_id, ok=False,
                                         error=f"no HubSpot contact with email {inputs[p].email}")
        return found

    def _per_contact(self, inputs: Sequence[_Input],
                     values: Callable[[Any], dict[str, Any]]) -> list[WriteResult]:
        """Contacts batch update, one input per contact (HubSpot refuses a batch with an id
        twice): several inputs for one contact merge, later ones winning."""
        results: dict[int, WriteResult] = {}
        contacts = self._contacts(inputs, range(len(inputs)), results)
        units: dict[str, _Unit] = {}
        for position, crm_id in contacts.items():
            unit = units.setdefault(crm_id, _Unit(crm_id, {"id": crm_id, "properties": {}}))
            unit.body["properties"].update(values(inputs[position]))
            unit.positions.append(position)
        _run(inputs, list(units.values()),
             self._send_updates("update contacts", "contacts_batch"), results)
        return _ordered(inputs, results)

    # ---- requests -------------------------------------------------------------------------

    def _send_email_creates(self, units: list[_Unit], finder: EmailFinder
                            ) -> dict[str, Outcome]:
        try:
            reply = self._client.sdk("create email engagements",
                                     _batch("emails_batch", "create", units), create=True)
        except UnansweredCreate as exc:
            return self._look_for_unanswered(units, finder, exc)
        return _match_created(units, reply, _email_signature)

    def _look_for_unanswered(self, units: list[_Unit], finder: EmailFinder,
                             exc: UnansweredCreate) -> dict[str, Outcome]:
        sought = {_sought_in(unit): unit for unit in units}
        found, waited = finder.look_after_unanswered(list(sought))
        outcomes = {sought[item].key: Outcome(True, record_id=record_id)
                    for item, record_id in found.items()}
        error = (f"{exc}; not found on the contact after {waited:.1f} s: looked for again "
                 "before it is created")
        for unit in units:
            outcomes.setdefault(unit.key, Outcome(False, error=error, retryable=True))
        return outcomes

    def _send_task_creates(self, units: list[_Unit]) -> dict[str, Outcome]:
        try:
            reply = self._client.sdk("create tasks", _batch("tasks_batch", "create", units),
                                     create=True)
        except UnansweredCreate as exc:
            return {u.key: Outcome(False, error=str(exc), retryable=True) for u in units}
        return _match_created(units, reply, _task_signature)

    def _send_updates(self, what: str, api: str) -> Send:
        def send(units: list[_Unit]) -> dict[str, Outcome]:
            reply = self._client.sdk(what, _batch(api, "update", units))
            data = reply.data if isinstance(reply.data, dict) else {}
            updated = {str(r.get("id")) for r in data.get("results") or []}
            failed: dict[str, str] = {}
            unattributed = []
            for error in data.get("errors") or []:
                ids = ((error.get("context") or {}).get("ids")) or []
                for key in ids:
                    failed[str(key)] = str(error.get("message") or "not updated")
                if not ids:
                    unattributed.append(str(error.get("message") or "not updated"))
            outcomes = {}
            for unit in units:
                if unit.key in failed:
                    outcomes[unit.key] = Outcome(False, error=failed[unit.key])
                elif unit.key in updated or not unattributed:
                    outcomes[unit.key] = Outcome(True, record_id=unit.key)
                else:
                    outcomes[unit.key] = Outcome(False, error="; ".join(unattributed))
            return outcomes
        return send

    def _send_opt_out(self, units: list[_Unit]) -> dict[str, Outcome]:
        (unit,) = units
        self._client.rest("unsubscribe from all email", "POST",
                          f"/communication-preferences/v4/statuses/{quote(unit.key, safe='@')}"
                          "/unsubscribe-all", params={"channel": "EMAIL"})
        return {unit.key: Outcome(True)}

    def _task_input(self, task: Task, contact_id: str) -> dict[str, Any]:
        return {"properties": {"hs_timestamp": _time(task.due_at or self._now()),
                               "hs_task_subject": task.subject, "hs_task_body": task.body,
                               "hs_task_status": "NOT_STARTED", "hs_task_type": "TODO"},
                "associations": [_association(contact_id, TASK_TO_CONTACT)]}


def _run(inputs: Sequence[_Input], units: list[_Unit], send: Send,
         results: dict[int, WriteResult], *, size: int = BATCH_SIZE) -> None:
    queue: deque[list[_Unit]] = deque(list(c) for c in chunks(units, size))
    while queue:
        chunk = queue.popleft()
        try:
            outcomes = send(chunk)
        except HubSpotRequestError as exc:
            if exc.status == 400 and len(chunk) > 1:
                half = len(chunk) // 2
                queue.extendleft([chunk[half:], chunk[:half]])
                continue
            outcomes = {u.key: Outcome(False, error=str(exc)) for u in chunk}
        except RetryableCRMError as exc:
            if not any(r.ok for r in results.values()):
                raise
            for unit in [u for c in (chunk, *queue) for u in c]:
                for p in unit.positions:
                    results[p] = WriteResult(inputs[p].writeback_id, ok=False, retryable=True,
                                             error=str(exc))
            return
        for unit in chunk:
            outcome = outcomes.get(unit.key) or Outcome(False, error="HubSpot left it out")
            for p in unit.positions:
                results[p] = WriteResult(inputs[p].writeback_id, ok=outcome.ok,
                                         retryable=outcome.retryable, error=outcome.error,
                                         record_id=outcome.record_id)


def _ordered(inputs: Sequence[_Input], results: dict[int, WriteResult]) -> list[WriteResult]:
    return [results[p] for p in range(len(inputs))]


def _batch(api: str, method: str, units: list[_Unit]) -> SdkCall:
    keyword = {"create": "batch_input_simple_public_object_batch_input_for_create",
               "update": "batch_input_simple_public_object_batch_input"}[method]
    body = {"inputs": [u.body for u in units]}

    def call(apis: SdkApis, options: dict[str, Any]) -> Any:
        return getattr(getattr(apis, api), method)(**{keyword: body}, **options)
    return call


def _match_created(units: list[_Unit], reply: Reply,
                   signature: Callable[[dict[str, Any]], str | None]) -> dict[str, Outcome]:
    """HubSpot does not promise its results in input order: match each to the input with
    the same signature (falling back to order when none matches and nothing failed)."""
    data = reply.data if isinstance(reply.data, dict) else {}
    records = list(data.get("results") or [])
    errors = list(data.get("errors") or [])
    waiting: dict[str, deque[_Unit]] = {}
    for unit in units:
        waiting.setdefault(signature(unit.body["properties"]) or "", deque()).append(unit)
    outcomes: dict[str, Outcome] = {}
    for record in records:
        candidates = waiting.get(signature(record.get("properties") or {}) or "\0")
        if candidates:
            outcomes[candidates.popleft().key] = Outcome(True, record_id=str(record["id"]))
    if not outcomes and not errors and len(records) == len(units):
        return {u.key: Outcome(True, record_id=str(r["id"]))
                for u, r in zip(units, records, strict=True)}
    for error in errors:
        message = str(error.get("message") or "not created")
        for index in (error.get("context") or {}).get("inputIndex") or []:
            if str(index).isdigit() and int(index) < len(units):
                outcomes.setdefault(units[int(index)].key, Outcome(False, error=message))
    leftover = "; ".join(str(e.get("message")) for e in errors) or "HubSpot left it out"
    for unit in units:
        outcomes.setdefault(unit.key, Outcome(False, error=leftover))
    return outcomes


def _email_input(activity: EmailActivity, contact_id: str) -> dict[str, Any]:
    headers = {"to": [{"email": activity.email}], "cc": [], "bcc": [],
               "messageId": activity.message_id, "writebackId": activity.writeback_id}
    return {"properties": {"hs_timestamp": _time(activity.occurred_at),
                           "hs_email_direction": "EMAIL",
                           "hs_email_status": EMAIL_STATUS[activity.kind],
                           "hs_email_subject": _subject(activity),
                           "hs_email_text": _capped(activity.text),
                           "hs_email_headers": json.dumps(headers, separators=(",", ":"))},
            "associations": [_association(contact_id, EMAIL_TO_CONTACT)]}


def _subject(activity: EmailActivity) -> str:
    """The timeline card's heading: a campaign email's leads with the campaign. A logged
    email has no campaign property, and a rep skims headings, not bodies."""
    return f"{activity.campaign}: {activity.subject}" if activity.campaign else activity.subject


def _sought(activity: EmailActivity, contact_id: str) -> Sought:
    return Sought(contact_id, activity.writeback_id, activity.message_id)


def _sought_in(unit: _Unit) -> Sought:
    """The engagement a create unit would make, read back from its own body."""
    headers = json.loads(unit.body["properties"]["hs_email_headers"])
    return Sought(str(unit.body["associations"][0]["to"]["id"]), int(headers["writebackId"]),
                  str(headers["messageId"]))


def _email_signature(properties: dict[str, Any]) -> str | None:
    """Our writeback id, carried in the engagement's headers."""
    try:
        headers = json.loads(properties.get("hs_email_headers") or "")
    except (TypeError, ValueError):
        return None
    tag = headers.get("writebackId") if isinstance(headers, dict) else None
    return f"writeback:{tag}" if tag is not None else None


def _task_signature(properties: dict[str, Any]) -> str | None:
    """Tasks carry nothing of ours: identical subject, body and due time are interchangeable."""
    due = _epoch_ms(properties.get("hs_timestamp"))
    return "\x1f".join([str(properties.get("hs_task_subject") or ""),
                        str(properties.get("hs_task_body") or ""), str(due)])


def _epoch_ms(value: Any) -> int | None:
    text = str(value or "")
    if text.isdigit():
        return int(text)
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def _association(contact_id: str, type_id: int) -> dict[str, Any]:
    return {"to": {"id": contact_id},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]}


def _engagement_properties(summary: EngagementSummary) -> dict[str, Any]:
    return {
        OPENS.name: str(summary.opens),
        CLICKS.name: str(summary.clicks),
        LAST_OPEN_AT.name: _time(summary.last_open_at) if summary.last_open_at else "",
        LAST_CLICK_AT.name: _time(summary.last_click_at) if summary.last_click_at else "",
        LAST_CLICKED_LINK.name: summary.last_clicked_url or "",
        LAST_EMAIL_SUBJECT.name: summary.last_email_subject or "",
        ACTIVE_FLOWS.name: "; ".join(summary.active_flows),
    }


def _time(moment: datetime) -> str:
    """HubSpot's timestamp format: UTC, milliseconds, Z."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _capped(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT - 1] + "…"
