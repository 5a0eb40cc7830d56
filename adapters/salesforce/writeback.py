"""Writing to Salesforce through the composite sObject collections API (200 records a
call, results in request order, allOrNone false so one bad record fails alone).

- Each email becomes a Task on the Contact's or Lead's Activity Timeline: TaskSubtype
  Email, Subject "Email: <subject>", Status Completed, ActivityDate the day it happened,
  Description the status (sent / failed / bounced), the first 1,000 characters of the body
  and a marker with our message id. A bounce of an email written before (`record_id`)
  updates that Task instead. An activity that may already have been written
  (`maybe_written`) is looked for by its marker on its contact's email Tasks first.
- Engagement (our choice): one "Email engagement (Drip)" Task per contact, created once and
  then updated in place with the absolute counts, the last open and click, the last
  clicked link and the active flows, its ActivityDate the last open or click. A rep sees
  one up-to-date line instead of a Task per open; retries and reorderings cannot double it.
- Property updates, opt-outs (HasOptedOutOfEmail = true): composite PATCH of the record,
  several inputs for one record merged (Salesforce refuses an id twice in a collection),
  the mirror's lower-cased names written in the org's spelling (fields.py).
  An opt-out also logs one completed "Unsubscribed from email (Drip)" Task on the
  timeline, once per contact (looked for before it is created, so a retry adds none).
- Tasks for the owner: Tasks with Status Not Started, due the given day.

A retryable failure after part of a call has landed turns the rest into retryable results
instead of raising, so a retry of the whole call cannot write the landed part twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from simple_salesforce import format_soql

from adapters.errors import RetryableCRMError
from adapters.port import (
    EmailActivity,
    EngagementSummary,
    OptOut,
    PropertyUpdate,
    Task,
    WriteResult,
)
from adapters.salesforce import OPT_OUT_PROPERTY
from adapters.salesforce.client import SalesforceClient, SalesforceRequestError, UnansweredCreate
from adapters.salesforce.contacts import ID_CHUNK, chunks, ids_by_email, query_all, sobject_of
from adapters.salesforce.fields import FieldCatalog

BATCH_SIZE = 200  # records per composite/sobjects call
DESCRIPTION_TEXT = 1_000  # characters of the email body a Task shows
STATUS = {"email_sent": "sent", "email_failed": "failed", "bounced": "bounced"}
ENGAGEMENT_SUBJECT = "Email engagement (Drip)"
OPT_OUT_SUBJECT = "Unsubscribed from email (Drip)"
# Per-record errors a retry may fix (another transaction held the row).
RETRYABLE_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "ALL_OR_NONE_OPERATION_ROLLED_BACK"})


class _Input(Protocol):
    @property
    def writeback_id(self) -> int: ...

    @property
    def contact_crm_id(self) -> str | None: ...

    @property
    def email(self) -> str: ...


@dataclass
class _Unit:
    """One record of a composite call, standing for one or more of the caller's inputs."""

    body: dict[str, Any]
    positions: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    record_id: str | None = None
    error: str | None = None
    retryable: bool = False


def marker(message_id: str) -> str:
    """What a Task's Description carries so an uncertain write can be found again."""
    return f"[drip message {message_id}]"


class Writer:
    def __init__(self, client: SalesforceClient, fields: FieldCatalog,
                 now: Callable[[], datetime]) -> None:
        self._client = client
        self._fields = fields
        self._now = now

    def write_activities(self, activities: Sequence[EmailActivity]) -> list[WriteResult]:
        results: dict[int, WriteResult] = {}
        updates: dict[str, _Unit] = {}
        for p, activity in enumerate(activities):
            if activity.record_id is not None:
                unit = updates.setdefault(activity.record_id, _Unit({}))
                unit.body = {"attributes": {"type": "Task"}, "Id": activity.record_id,
                             "Subject": _subject(activity), "Description": _description(activity)}
                unit.positions.append(p)
        fresh = [p for p, a in enumerate(activities) if a.record_id is None]
        contacts = self._contacts(activities, fresh, results)
        existing = self._find_written([activities[p] for p in fresh
                                       if p in contacts and activities[p].maybe_written],
                                      {contacts[p] for p in fresh if p in contacts})
        creates = []
        for p in fresh:
            if p not in contacts:
                continue
            found = existing.get(activities[p].message_id)
            if found is not None:  # an earlier attempt landed: nothing to create
                results[p] = WriteResult(activities[p].writeback_id, ok=True, record_id=found)
            else:
                creates.append(_Unit(_email_task(activities[p], contacts[p]), [p]))
        self._run(activities, creates, "create email Tasks", "POST", results)
        self._run(activities, list(updates.values()), "update email Tasks", "PATCH", results)
        return _ordered(activities, results)

    def write_engagement(self, summaries: Sequence[EngagementSummary]) -> list[WriteResult]:
        results: dict[int, WriteResult] = {}
        contacts = self._contacts(summaries, range(len(summaries)), results)
        existing = self._tasks_with_subject(set(contacts.values()), ENGAGEMENT_SUBJECT)
        creates: dict[str, _Unit] = {}
        updates: dict[str, _Unit] = {}
        for p, crm_id in contacts.items():
            summary = summaries[p]
            task_id = existing.get(crm_id[:15])
            fields = {"Description": _engagement_text(summary),
                      "ActivityDate": _day(_last_engaged(summary) or self._now())}
            if task_id is not None:
                unit = updates.setdefault(task_id, _Unit({}))
                unit.body = {"attributes": {"type": "Task"}, "Id": task_id, **fields}
            else:
                unit = creates.setdefault(crm_id[:15], _Unit({}))
                unit.body = {"attributes": {"type": "Task"}, "WhoId": crm_id,
                             "Subject": ENGAGEMENT_SUBJECT, "Status": "Completed",
                             "TaskSubtype": "Task", **fields}
            unit.positions.append(p)  # later summaries of one contact win
        self._run(summaries, list(creates.values()), "create engagement Tasks", "POST", results)
        self._run(summaries, list(updates.values()), "update engagement Tasks", "PATCH",
                  results)
        return _ordered(summaries, results)

    def update_properties(self, updates: Sequence[PropertyUpdate]) -> list[WriteResult]:
        return self._patch_people(updates, lambda u: dict(u.properties), "update properties")

    def record_opt_outs(self, opt_outs: Sequence[OptOut]) -> list[WriteResult]:
        patched = self._patch_people(opt_outs, lambda _: {OPT_OUT_PROPERTY: True},
                                     "record opt-outs")
        done = {p: r.record_id for p, r in enumerate(patched) if r.ok and r.record_id}
        logged = self._tasks_with_subject(set(done.values()), OPT_OUT_SUBJECT)
        creates: dict[str, _Unit] = {}
        for p, crm_id in done.items():
            if crm_id[:15] not in logged:
                unit = creates.setdefault(crm_id[:15], _Unit(
                    {"attributes": {"type": "Task"}, "WhoId": crm_id,
                     "Subject": OPT_OUT_SUBJECT, "Status": "Completed", "TaskSubtype": "Task",
                     "ActivityDate": _day(opt_outs[p].occurred_at),
                     "Description": f"{opt_outs[p].email} unsubscribed from marketing email "
                                    f"on {_stamp(opt_outs[p].occurred_at)}; "
                                    f"{OPT_OUT_PROPERTY} is set."}))
                unit.positions.append(p)
        logs: dict[int, WriteResult] = {}
        self._run(opt_outs, list(creates.values()), "log opt-out Tasks", "POST", logs)
        # A log that may work later retries the opt-out (its PATCH is idempotent); one
        # Salesforce refuses outright leaves the opt-out done: the flag is what counts.
        return [WriteResult(r.writeback_id, ok=False, retryable=True, error=logs[p].error)
                if p in logs and not logs[p].ok and logs[p].retryable else r
                for p, r in enumerate(patched)]

    def create_tasks(self, tasks: Sequence[Task]) -> list[WriteResult]:
        results: dict[int, WriteResult] = {}
        contacts = self._contacts(tasks, range(len(tasks)), results)
        units = [_Unit({"attributes": {"type": "Task"}, "WhoId": crm_id,
                        "Subject": tasks[p].subject[:255], "Description": tasks[p].body,
                        "ActivityDate": _day(tasks[p].due_at or self._now()),
                        "Status": "Not Started", "TaskSubtype": "Task"}, [p])
                 for p, crm_id in contacts.items()]
        self._run(tasks, units, "create Tasks", "POST", results)
        return _ordered(tasks, results)

    # ---- records ----------------------------------------------------------------------

    def _contacts(self, inputs: Sequence[_Input], positions: Sequence[int],
                  results: dict[int, WriteResult]) -> dict[int, str]:
        """The Contact or Lead id of each input at `positions` (by email when the core has
        none); an address the org does not know, or an id of another object, fails."""
        missing = [inputs[p].email for p in positions if not inputs[p].contact_crm_id]
        known = ids_by_email(self._client, missing) if missing else {}
        found: dict[int, str] = {}
        for p in positions:
            crm_id = inputs[p].contact_crm_id or known.get(inputs[p].email.strip().lower())
            if crm_id and sobject_of(crm_id) is not None:
                found[p] = crm_id
            else:
                error = (f"{crm_id} is not a Salesforce Contact or Lead id" if crm_id else
                         f"no Salesforce Contact or Lead with email {inputs[p].email}")
                results[p] = WriteResult(inputs[p].writeback_id, ok=False, error=error)
        return found

    def _patch_people(self, inputs: Sequence[_Input], values: Callable[[Any], dict[str, Any]],
                      what: str) -> list[WriteResult]:
        results: dict[int, WriteResult] = {}
        contacts = self._contacts(inputs, range(len(inputs)), results)
        units: dict[str, _Unit] = {}
        for p, crm_id in contacts.items():
            sobject = str(sobject_of(crm_id))
            unit = units.setdefault(crm_id[:15], _Unit(
                {"attributes": {"type": sobject}, "Id": crm_id}))
            unit.body.update(self._fields.api_values(sobject, values(inputs[p])))
            unit.positions.append(p)
        self._run(inputs, list(units.values()), what, "PATCH", results)
        return _ordered(inputs, results)

    def _find_written(self, activities: Sequence[EmailActivity], who: set[str]
                      ) -> dict[str, str]:
        """Task ids keyed by message id, for the activities whose marker is on a Task
        (Description is not filterable in SOQL: the contacts' email Tasks are read)."""
        if not activities:
            return {}
        wanted = {a.message_id for a in activities}
        found: dict[str, str] = {}
        for chunk in chunks(sorted(who), ID_CHUNK):
            soql = format_soql("SELECT Id, Description FROM Task WHERE WhoId IN {ids} "
                               "AND TaskSubtype = 'Email'", ids=list(chunk))
            for record in query_all(self._client, soql):
                text = str(record.get("Description") or "")
                for message_id in wanted:
                    if marker(message_id) in text:
                        found.setdefault(message_id, str(record["Id"]))
        return found

    def _tasks_with_subject(self, who: set[str], subject: str) -> dict[str, str]:
        """The Task of each contact with this subject (keyed by its 15-character id)."""
        found: dict[str, str] = {}
        for chunk in chunks(sorted(who), ID_CHUNK):
            soql = format_soql("SELECT Id, WhoId FROM Task WHERE WhoId IN {ids} "
                               "AND Subject = {subject}", ids=list(chunk), subject=subject)
            for record in query_all(self._client, soql):
                if record.get("WhoId"):
                    found.setdefault(str(record["WhoId"])[:15], str(record["Id"]))
        return found

    # ---- requests ---------------------------------------------------------------------

    def _run(self, inputs: Sequence[_Input], units: list[_Unit], what: str, method: str,
             results: dict[int, WriteResult]) -> None:
        batches = [list(c) for c in chunks(units, BATCH_SIZE)]
        for index, batch in enumerate(batches):
            try:
                outcomes = self._send(what, method, batch)
            except UnansweredCreate as exc:
                # Not sent again: a retry looks for the marked Tasks before creating.
                outcomes = [Outcome(False, error=str(exc), retryable=True) for _ in batch]
            except SalesforceRequestError as exc:
                outcomes = [Outcome(False, error=str(exc)) for _ in batch]
            except RetryableCRMError as exc:
                if not any(r.ok for r in results.values()):
                    raise
                for unit in [u for b in batches[index:] for u in b]:
                    for p in unit.positions:
                        results[p] = WriteResult(inputs[p].writeback_id, ok=False,
                                                 retryable=True, error=str(exc))
                return
            for unit, outcome in zip(batch, outcomes, strict=True):
                for p in unit.positions:
                    results[p] = WriteResult(inputs[p].writeback_id, ok=outcome.ok,
                                             retryable=outcome.retryable, error=outcome.error,
                                             record_id=outcome.record_id)

    def _send(self, what: str, method: str, batch: list[_Unit]) -> list[Outcome]:
        body = {"allOrNone": False, "records": [u.body for u in batch]}
        answer = self._client.call(what, lambda sf, timeout: sf.restful(
            "composite/sobjects", method=method, json=body, timeout=timeout),
            create=method == "POST")
        rows = answer if isinstance(answer, list) else []
        outcomes = []
        for position, unit in enumerate(batch):
            row = rows[position] if position < len(rows) else None
            if not isinstance(row, dict):
                outcomes.append(Outcome(False, error="Salesforce left it out", retryable=True))
            elif row.get("success"):
                outcomes.append(Outcome(True, record_id=str(row.get("id") or
                                                            unit.body.get("Id"))))
            else:
                errors = row.get("errors") or [{}]
                codes = {str(e.get("statusCode")) for e in errors}
                message = "; ".join(f"{e.get('statusCode')}: {e.get('message')}"
                                    for e in errors)
                outcomes.append(Outcome(False, error=message,
                                        retryable=bool(codes & RETRYABLE_CODES)))
        return outcomes


def _ordered(inputs: Sequence[_Input], results: dict[int, WriteResult]) -> list[WriteResult]:
    return [results[p] for p in range(len(inputs))]


def _subject(activity: EmailActivity) -> str:
    """What the Activity Timeline lists: a campaign email's names its campaign first."""
    named = f"{activity.campaign}: {activity.subject}" if activity.campaign else activity.subject
    return f"Email: {named}"[:255]  # Subject holds 255 characters


def _description(activity: EmailActivity) -> str:
    text = activity.text if len(activity.text) <= DESCRIPTION_TEXT else (
        activity.text[:DESCRIPTION_TEXT - 1] + "…")
    # The campaign again, whole: a long name and subject can be cut off the Subject.
    campaign = f"\nCampaign: {activity.campaign}" if activity.campaign else ""
    return (f"Status: {STATUS[activity.kind]}{campaign}\n\n{text}\n\n"
            f"{marker(activity.message_id)}")


def _email_task(activity: EmailActivity, contact_id: str) -> dict[str, Any]:
    return {"attributes": {"type": "Task"}, "WhoId": contact_id, "TaskSubtype": "Email",
            "Subject": _subject(activity), "Status": "Completed",
            "ActivityDate": _day(activity.occurred_at), "Description": _description(activity)}


def _engagement_text(summary: EngagementSummary) -> str:
    lines = [f"Opens: {summary.opens}", f"Clicks: {summary.clicks}",
             f"Last open: {_stamp(summary.last_open_at)}",
             f"Last click: {_stamp(summary.last_click_at)}",
             f"Last clicked link: {summary.last_clicked_url or ''}",
             f"Last email: {summary.last_email_subject or ''}",
             f"Active flows: {'; '.join(summary.active_flows)}"]
    return "\n".join(lines)


def _last_engaged(summary: EngagementSummary) -> datetime | None:
    moments = [m for m in (summary.last_open_at, summary.last_click_at) if m is not None]
    return max(moments) if moments else None


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


def _stamp(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else ""
