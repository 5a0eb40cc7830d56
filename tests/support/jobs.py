"""Running queued jobs in the test's process."""

from __future__ import annotations

from connector.local.inprocess import drain
from connector.runtime import Runtime


def work(rt: Runtime) -> None:
    """Run every queued job to completion in this process (an RQ burst worker)."""
    drain(rt.queues)
