"""Running queued jobs inside this process: the demo, `flows simulate` and tests drain the
queues in bursts between clock moves with RQ's own job lifecycle (retries, registries)."""

from __future__ import annotations

from rq import SimpleWorker

from connector.queues import Queues


class BurstWorker(SimpleWorker):
    """A SimpleWorker without the remote-command channel: a burst worker in this process
    takes no commands, and stopping RQ's pub/sub thread costs up to a second per burst."""

    def subscribe(self) -> None:
        pass

    def unsubscribe(self) -> None:
        pass


def drain(queues: Queues) -> None:
    """Run every queued job (and the jobs they enqueue) until all queues are empty."""
    BurstWorker(queues.all(), connection=queues.redis).work(burst=True, logging_level="ERROR")
