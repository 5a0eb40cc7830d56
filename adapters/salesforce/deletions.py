"""Deleted Contacts and Leads, read back from the org's deleted-records log
(`/sobjects/<type>/deleted/?start=&end=`, what simple-salesforce's `sf.Contact.deleted(start,
end)` calls). Salesforce sends no Outbound Message on a delete: a reconciliation reads them.

The log is a window, with Salesforce's rules: it goes back 15 days at most (an older start
is clamped here, or the org refuses the call with INVALID_REPLICATION_DATE), the seconds of
both ends are ignored, `latestDateCovered` says how far the answer vouches for, and an
`earliestDateAvailable` after the start says the org purged deletions we may have missed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from simple_salesforce import Salesforce

from adapters.errors import PermanentCRMError
from adapters.port import DeletedRecord, DeletedRecords
from adapters.salesforce.client import SalesforceClient
from adapters.salesforce.contacts import PEOPLE, soql_datetime

KEPT = timedelta(days=15)
# The org's clock and ours differ a little: a start 15 days back by ours could be refused.
CLOCK_MARGIN = timedelta(minutes=5)
# The seconds of both ends are ignored: a shorter window could come out empty or reversed.
MIN_WINDOW = timedelta(minutes=1)


def deleted_since(client: SalesforceClient, since: datetime, now: datetime) -> DeletedRecords:
    """The Contacts and Leads deleted from `since` to `now`, oldest first (two calls)."""
    if since.tzinfo is None or now.tzinfo is None:
        raise ValueError("deleted_since needs timezone-aware datetimes")
    end = now.astimezone(UTC)
    oldest = end - KEPT + CLOCK_MARGIN
    start = min(max(since.astimezone(UTC), oldest), end - MIN_WINDOW)
    answers = [read_window(client, sobject, start, end) for sobject in PEOPLE]
    return to_deleted(answers, start=start, end=end, clamped=since < oldest)


def read_window(client: SalesforceClient, sobject: str, start: datetime, end: datetime
                ) -> Any:
    """One object's deleted-records window, as Salesforce answers it.

    Through `restful` rather than `sf.Contact.deleted`: the SFType call takes no timeout,
    and keeps the answer's Sforce-Limit-Info to itself where the client cannot see it."""
    params = {"start": soql_datetime(start), "end": soql_datetime(end)}

    def call(sf: Salesforce, timeout: float) -> Any:
        return sf.restful(f"sobjects/{sobject}/deleted/", params=params, timeout=timeout)
    return client.call(f"deleted {sobject}s", call)


def to_deleted(answers: Sequence[Any], *, start: datetime, end: datetime, clamped: bool
               ) -> DeletedRecords:
    """The windows' answers (one per object, each {"deletedRecords": [{"id", "deletedDate"}],
    "earliestDateAvailable", "latestDateCovered"}) as one DeletedRecords: covered as far as
    the least covered window, purged as far as the most purged one."""
    records: list[DeletedRecord] = []
    covered, purged = end, None
    for answer in answers:
        if not isinstance(answer, dict):
            raise PermanentCRMError(f"Salesforce deleted records: not an answer: {answer!r:.200}")
        for row in answer.get("deletedRecords") or []:
            if not isinstance(row, dict) or not row.get("id"):
                raise PermanentCRMError(f"Salesforce deleted records: no id in {row!r:.200}")
            records.append(DeletedRecord(str(row["id"]),
                                         _moment(row.get("deletedDate"), "deletedDate")))
        latest = answer.get("latestDateCovered")
        if latest:
            covered = min(covered, _moment(latest, "latestDateCovered"))
        earliest = answer.get("earliestDateAvailable")
        moment = _moment(earliest, "earliestDateAvailable") if earliest else None
        if moment is not None and moment > start:
            purged = moment if purged is None else max(purged, moment)
    records.sort(key=lambda r: (r.deleted_at, r.crm_id))
    return DeletedRecords(records, clamped_from=start if clamped else None,
                          covered_through=covered, purged_through=purged)


def _moment(value: Any, name: str) -> datetime:
    """Salesforce's dateTime (2024-05-05T10:00:00.000+0000), aware, in UTC; anything else
    is an answer we cannot trust (permanent: asking again gets the same)."""
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise PermanentCRMError(f"Salesforce deleted records: {name} {str(value)[:40]!r} is "
                                "not a date and time with a time zone")
    return parsed.astimezone(UTC)
