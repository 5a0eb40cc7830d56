"""Salesforce's deleted-records answers (one per object) read as one DeletedRecords: oldest
first, covered as far as the least covered window, purged past the start only when the org
says so, and an answer that is not Salesforce's refused with what is wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.errors import PermanentCRMError
from adapters.port import DeletedRecord
from adapters.salesforce.deletions import to_deleted

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
END = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def answer(*rows: tuple[str, str], earliest: str = "2026-02-14T09:00:00.000+0000",
           latest: str = "2026-03-02T09:00:00.000+0000") -> dict[str, Any]:
    return {"deletedRecords": [{"id": i, "deletedDate": d} for i, d in rows],
            "earliestDateAvailable": earliest, "latestDateCovered": latest}


def test_contacts_and_leads_come_oldest_first_covered_as_far_as_both() -> None:
    contacts = answer(("003A", "2026-03-01T12:00:00.000+0000"),
                      latest="2026-03-02T08:59:00.000+0000")
    leads = answer(("00QB", "2026-03-01T10:30:00.000+0000"),
                   ("00QC", "2026-03-01T15:00:00.000Z"))
    deleted = to_deleted([contacts, leads], start=START, end=END, clamped=False)
    assert deleted.records == [
        DeletedRecord("00QB", datetime(2026, 3, 1, 10, 30, tzinfo=UTC)),
        DeletedRecord("003A", datetime(2026, 3, 1, 12, 0, tzinfo=UTC)),
        DeletedRecord("00QC", datetime(2026, 3, 1, 15, 0, tzinfo=UTC)),
    ]
    assert deleted.covered_through == END - timedelta(minutes=1)
    assert (deleted.clamped_from, deleted.purged_through, deleted.pushed) == (None, None, False)


def test_a_purge_after_the_start_and_a_clamped_start_are_said() -> None:
    purged = answer(earliest="2026-03-01T11:00:00.000+0000")
    kept = answer(earliest="2026-02-20T00:00:00.000+0000")
    deleted = to_deleted([kept, purged], start=START, end=END, clamped=True)
    assert deleted.purged_through == datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
    assert deleted.clamped_from == START
    assert deleted.records == []


def test_without_latest_date_covered_the_window_is_covered_to_its_end() -> None:
    bare: dict[str, Any] = {"deletedRecords": [], "earliestDateAvailable": None}
    assert to_deleted([bare], start=START, end=END, clamped=False).covered_through == END


@pytest.mark.parametrize(("answers", "message"), [
    ([[]], "not an answer"),
    ([{"deletedRecords": [{"deletedDate": "2026-03-01T10:30:00.000+0000"}]}], "no id"),
    ([answer(("003A", "yesterday"))], "deletedDate 'yesterday' is not a date and time"),
    ([answer(("003A", "2026-03-01T10:30:00"))], "with a time zone"),
    ([answer(latest="soon")], "latestDateCovered 'soon'"),
])
def test_an_answer_that_is_not_salesforces_is_refused(answers: list[Any], message: str
                                                     ) -> None:
    with pytest.raises(PermanentCRMError, match=message):
        to_deleted(answers, start=START, end=END, clamped=False)
