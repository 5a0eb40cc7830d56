"""The CRM of a standalone ("local") account: there is none. Its reads find nothing and
its writes succeed without being kept, so a worker that runs for months does not hold
every email it ever sent (adapters/memory.py's InMemoryCRM keeps each one, text and all:
a test's and the simulator's CRM)."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.memory import InMemoryCRM
from adapters.port import (
    EmailActivity,
    EngagementSummary,
    OptOut,
    PropertyUpdate,
    Task,
    WriteResult,
)


class StandaloneCRM(InMemoryCRM):
    def write_activities(self, *, activities: Sequence[EmailActivity]) -> list[WriteResult]:
        # A bounce updates the record its email's `sent` write made: the same id back.
        return [WriteResult(a.writeback_id, ok=True,
                            record_id=a.record_id or f"email-{a.writeback_id}")
                for a in activities]

    def write_engagement(self, *, summaries: Sequence[EngagementSummary]
                         ) -> list[WriteResult]:
        return [WriteResult(s.writeback_id, ok=True) for s in summaries]

    def update_properties(self, *, updates: Sequence[PropertyUpdate]) -> list[WriteResult]:
        return [WriteResult(u.writeback_id, ok=True) for u in updates]

    def create_tasks(self, *, tasks: Sequence[Task]) -> list[WriteResult]:
        return [WriteResult(t.writeback_id, ok=True, record_id=f"task-{t.writeback_id}")
                for t in tasks]

    def record_opt_outs(self, *, opt_outs: Sequence[OptOut]) -> list[WriteResult]:
        return [WriteResult(o.writeback_id, ok=True) for o in opt_outs]
