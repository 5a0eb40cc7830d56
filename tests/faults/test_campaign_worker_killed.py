"""A real worker process SIGKILLed in the middle of a campaign chunk (the SMTP server has
taken some of its emails): nobody gets the campaign twice. The killed chunk's rows stay
`sending` and are marked uncertain, never resent; the other workers' advances send the
rest, and the campaign finishes."""

from __future__ import annotations

import signal
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from connector.clock import VirtualClock
from connector.models import CampaignRun, Message
from connector.runtime import Runtime
from connector.scheduler import tick
from connector.services.accounts import AccountView
from connector.services.campaigns import start_campaign
from connector.services.campaigns.advance import CHUNK
from connector.workspaces import deploy_files, read_workspace
from tests.conftest import MakeRuntime
from tests.faults.conftest import wait_for
from tests.integration.campaigns.conftest import NEWSLETTER, add_contacts
from tests.support.jobs import work
from tests.support.paths import ROOT
from tests.support.processes import worker_process
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.slow



def ledger(rt: Runtime) -> Counter[str]:
    with rt.db.session() as session:
        return Counter(session.scalars(select(Message.status).where(
            Message.campaign_id.is_not(None))))


def test_a_worker_killed_mid_chunk_sends_nobody_the_campaign_twice(
    make_runtime: MakeRuntime, account: AccountView, smtp_server: SmtpServer,
    redis_url: str, clock: VirtualClock, tmp_path: Path,
) -> None:
    rt = make_runtime(mail_url=smtp_server.url)
    chunk = CHUNK
    audience = 2 * chunk + 10
    folder = tmp_path / "campaigns"
    folder.mkdir()
    (folder / "newsletter.yaml").write_text(NEWSLETTER)
    files = read_workspace(ROOT / "flows", ROOT / "segments", ROOT / "templates", folder)
    deploy_files(rt.db, rt.settings, account.id, files, now=rt.clock.now())
    add_contacts(rt, account.id, audience)
    smtp_server.sink.delay = 0.1  # a slow server: the chunk takes seconds
    start_campaign(rt, account.id, "newsletter")

    with worker_process(rt.settings, redis_url, "send", "--burst", "--no-ticker",
                        MAIL_URL=smtp_server.url) as worker:
        wait_for(lambda: len(smtp_server.messages) >= 10 or worker.poll() is not None, 30,
                 "the worker never started sending")
        assert worker.poll() is None, "the worker exited before it was killed"
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    smtp_server.sink.delay = 0
    killed = ledger(rt)
    assert killed == {"sending": chunk}  # its outcomes were never recorded
    reached = len(smtp_server.messages)
    assert 10 <= reached < chunk

    work(rt)  # the advance it queued for the next chunk, on another worker
    clock.set(datetime.now(UTC) + timedelta(minutes=11))  # the worker used the real clock
    tick(rt, clock.now())  # the sweep: killed rows are uncertain now, the campaign re-woken
    work(rt)

    received = Counter(str(m["To"]) for m in smtp_server.messages)
    assert set(received.values()) == {1}, "someone got the campaign twice"
    assert ledger(rt) == {"sent": audience - chunk, "uncertain": chunk}
    assert len(received) == audience - chunk + reached
    with rt.db.session() as session:
        run = session.scalars(select(CampaignRun)).one()
        assert run.state == "sent"
        uncertain = set(session.scalars(select(Message.to_email).where(
            Message.status == "uncertain")))
    # Of the killed chunk, the server has exactly what it took before the kill: none of
    # its uncertain rows went out again.
    assert len(uncertain & set(received)) == reached
