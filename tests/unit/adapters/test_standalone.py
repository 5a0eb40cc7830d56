"""A standalone account's CRM: every write succeeds and nothing is kept."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.port import EmailActivity, EngagementSummary, OptOut, PropertyUpdate, Task
from adapters.standalone import StandaloneCRM

AT = datetime(2026, 5, 1, tzinfo=UTC)


def activity(n: int, record_id: str | None = None) -> EmailActivity:
    return EmailActivity(writeback_id=n, kind="bounced" if record_id else "sent",
                         contact_crm_id=None, email=f"r{n}@example.com", subject="Hi",
                         text="x" * 4000, occurred_at=AT, message_id=f"m{n}",
                         record_id=record_id)


def test_writes_succeed_and_nothing_is_held() -> None:
    crm = StandaloneCRM()
    sent = crm.write_activities(activities=[activity(n) for n in range(1, 1001)])
    assert all(r.ok for r in sent) and len({r.record_id for r in sent}) == 1000
    bounced = crm.write_activities(activities=[activity(2000, record_id=sent[0].record_id)])
    assert bounced[0].ok and bounced[0].record_id == sent[0].record_id
    others = [
        *crm.write_engagement(summaries=[EngagementSummary(
            writeback_id=1, contact_crm_id=None, email="a@example.com", opens=1, clicks=0,
            last_open_at=AT, last_click_at=None, last_clicked_url=None,
            last_email_subject="Hi", active_flows=[])]),
        *crm.update_properties(updates=[PropertyUpdate(
            writeback_id=2, contact_crm_id=None, email="a@example.com",
            properties={"tier": "gold"})]),
        *crm.create_tasks(tasks=[Task(writeback_id=3, contact_crm_id=None,
                                      email="a@example.com", subject="Call", body="",
                                      due_at=None)]),
        *crm.record_opt_outs(opt_outs=[OptOut(writeback_id=4, contact_crm_id=None,
                                              email="a@example.com", occurred_at=AT)]),
    ]
    assert [r.ok for r in others] == [True] * 4
    assert not (crm.writes or crm.timeline or crm.engagement or crm.properties
                or crm.tasks or crm.opt_outs)
