"""`connector demo`: the whole mission on embedded defaults, on a virtual clock.

Sample contacts arrive through the real /v1/events endpoint, RQ jobs run on an embedded
Redis, flows send into the outbox folder, an open, a click and an unsubscribe go through
the real tracking endpoints, write-backs reach the (in-memory) CRM, and a summary is
printed. Days pass in seconds because every service takes the time from the clock.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import urllib.request
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from connector import jobs
from connector import runtime as runtime_module
from connector.app import create_app
from connector.clock import VirtualClock
from connector.demo_report import DemoReport, collect_report, print_report
from connector.inprocess import drain
from connector.migrate import upgrade
from connector.redis_embedded import EmbeddedRedis
from connector.runtime import Runtime, build_runtime
from connector.services.accounts import connect_account
from connector.settings import Settings
from connector.webserver import WebServer

DEMO_DAYS = 7
STEP = timedelta(hours=6)
SAMPLE = Path(__file__).parent / "demo_data" / "events.json"


def run_demo(settings: Settings, console: Console, *, fresh: bool = True) -> int:
    home = settings.var_dir / "demo"
    if fresh and home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    outbox = settings.var_dir / "outbox"
    before = set(outbox.glob("*.eml")) if outbox.exists() else set()
    database_url = f"sqlite:///{(home / 'connector.sqlite3').resolve()}"
    upgrade(database_url)
    clock = VirtualClock(datetime.now(UTC).replace(microsecond=0))
    redis_dir = Path(tempfile.mkdtemp(prefix="crmdrip-demo-"))
    with EmbeddedRedis(redis_dir) as redis_server:
        server = WebServer()
        settings = settings.model_copy(
            update={
                "database_url": database_url,
                "mail_url": f"outbox://{outbox.resolve()}",
                "public_base_url": server.base_url,
            }
        )
        rt = build_runtime(settings, redis_url=redis_server.url, clock=clock)
        runtime_module.install(rt)
        try:
            server.start(create_app(rt))
            report = _run(rt, clock, server.base_url, console)
        finally:
            server.stop()
            runtime_module.install(None)
            rt.close()
    shutil.rmtree(redis_dir, ignore_errors=True)
    written = sorted(set(outbox.glob("*.eml")) - before)
    print_report(console, report, outbox=outbox, files=len(written))
    return 0


def _run(rt: Runtime, clock: VirtualClock, base_url: str, console: Console) -> DemoReport:
    with rt.db.session() as session:
        account, _ = connect_account(
            session,
            rt.vault,
            provider="hubspot",
            external_id="1000001",
            access_token="demo-private-app-token",
            refresh_token=None,
            instance_url=None,
            name="Demo portal",
            now=clock.now(),
        )
    events: list[dict[str, Any]] = json.loads(SAMPLE.read_text())
    console.print(f"[bold]1.[/] {len(events)} events in through POST {base_url}/v1/events")
    for event in events:
        _post_json(f"{base_url}/v1/events", event, api_key=account.api_key)
    drain(rt.queues)

    console.print(
        "[bold]2.[/] the first emails are out; a recipient opens, clicks, another unsubscribes"
    )
    _engage(rt, base_url)

    console.print(f"[bold]3.[/] {DEMO_DAYS} days pass on the virtual clock")
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("virtual days", total=DEMO_DAYS * (timedelta(days=1) // STEP))
        for _ in range(DEMO_DAYS * (timedelta(days=1) // STEP)):
            clock.advance(STEP)
            rt.queues.enqueue("scheduler", jobs.dispatch_due, retry=None)
            drain(rt.queues)
            progress.advance(task)
    # Write-backs queued by the last burst are flushed by one more tick.
    rt.queues.enqueue("scheduler", jobs.dispatch_due, retry=None)
    drain(rt.queues)
    return collect_report(rt, account.id)


def _engage(rt: Runtime, base_url: str) -> None:
    """Open and click the first email, unsubscribe from the second, over real HTTP."""
    from connector.models import Message

    with rt.db.session() as session:
        sent = session.query(Message).filter_by(status="sent").order_by(Message.id).limit(2).all()
    if len(sent) < 2:
        raise RuntimeError("the demo expected at least two emails after the first events")
    first, second = (_read_eml(rt, m.message_id_header or "") for m in sent)
    pixel = next(u for u in _urls(first) if "/t/o/" in u)
    link = next(u for u in _urls(first) if "/t/c/" in u)
    urllib.request.urlopen(pixel).read()
    _get_without_redirect(link)
    unsubscribe = str(second["List-Unsubscribe"]).strip().strip("<>")
    request = urllib.request.Request(
        unsubscribe,
        data=b"List-Unsubscribe=One-Click",
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    urllib.request.urlopen(request).read()


def _read_eml(rt: Runtime, message_id: str) -> Any:
    outbox = Path(rt.settings.mail.removeprefix("outbox://"))
    for path in outbox.glob("*.eml"):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        if message["Message-ID"] == message_id:
            return message
    raise FileNotFoundError(f"{message_id} is not in {outbox}")


def _urls(message: Any) -> list[str]:
    import re

    html = message.get_body(("html",)).get_content()
    return re.findall(r'(?:href|src)="([^"]+)"', html)


def _get_without_redirect(url: str) -> int:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        return opener.open(url).status
    except urllib.error.HTTPError as exc:  # the 302 itself
        return exc.code


def _post_json(url: str, body: dict[str, Any], *, api_key: str) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"},
    )
    with urllib.request.urlopen(request) as response:
        if response.status != 202:
            raise RuntimeError(f"/v1/events answered {response.status}")
