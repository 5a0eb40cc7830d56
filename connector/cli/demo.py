"""`connector demo`: the whole mission on embedded defaults, on a virtual clock.

Sample contacts are created in an emulated HubSpot portal (devcrm.hubspot), whose signed
webhooks reach the real /webhooks/hubspot endpoint; orders, a product view and a cart
arrive through the real /v1/events endpoint; RQ jobs run on an embedded Redis; the shipped
flows send into the outbox folder; an open, clicks and an unsubscribe go through the real
tracking endpoints; shipping and delivery events arrive days later; write-backs reach the
portal through the real HubSpot adapter (email engagements on each contact's timeline,
the app's engagement properties, the opt-out); a summary, what a rep sees in HubSpot and a
flow timeline are printed. Days pass in seconds because every service reads the clock
(the emulated HubSpot's too).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from connector import runtime as runtime_module
from connector.app import create_app
from connector.cli.demo_portal import PORTAL_ID, TOKEN, DemoPortal, demo_portal, print_portal
from connector.cli.demo_report import collect_report, print_contact_timeline, print_report
from connector.clock import VirtualClock
from connector.local.inprocess import drain
from connector.local.redis_embedded import EmbeddedRedis
from connector.local.webserver import WebServer
from connector.migrate import upgrade
from connector.models import Message
from connector.runtime import Runtime, build_runtime
from connector.services.accounts import connect_account
from connector.settings import Settings
from connector.workspaces import deploy_default

DEMO_DAYS = 12
STEP = timedelta(hours=6)
SAMPLE = Path(__file__).parent / "demo_data" / "events.json"
LATER = Path(__file__).parent / "demo_data" / "later.json"  # {"day": n, **event}


@dataclass
class Demo:
    rt: Runtime
    clock: VirtualClock
    base_url: str
    api_key: str
    console: Console
    start: datetime

    def post(self, event: dict[str, Any]) -> None:
        request = urllib.request.Request(
            f"{self.base_url}/v1/events",
            data=json.dumps(event).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"},
        )
        with urllib.request.urlopen(request) as response:
            if response.status != 202:
                raise RuntimeError(f"/v1/events answered {response.status}")

    def email(self, to: str, template: str) -> EmailMessage | None:
        """The rendered .eml of the first `template` email sent to `to`, if any."""
        with self.rt.db.session() as session:
            row = (
                session.query(Message)
                .filter_by(to_email=to, template=template, status="sent")
                .first()
            )
        return _read_eml(self.rt, row.message_id_header or "") if row else None

    def step(self) -> None:
        self.clock.advance(STEP)
        self.rt.work.dispatch_due()
        drain(self.rt.queues)


def run_demo(settings: Settings, console: Console, *, fresh: bool = True) -> int:
    home = settings.var_dir / "demo"
    if fresh and home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    outbox = settings.var_dir / "outbox"
    before = set(outbox.glob("*.eml")) if outbox.exists() else set()
    database_url = f"sqlite:///{(home / 'connector.sqlite3').resolve()}"
    upgrade(database_url)
    start = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    clock = VirtualClock(start)
    redis_dir = Path(tempfile.mkdtemp(prefix="crmdrip-demo-"))
    with EmbeddedRedis(redis_dir) as redis_server, demo_portal(clock) as hubspot:
        server = WebServer()
        settings = settings.model_copy(
            update={
                "database_url": database_url,
                "mail_url": f"outbox://{outbox.resolve()}",
                "public_base_url": server.base_url,
                # Webhooks reach the demo reliably: reconcile once a virtual day, not at
                # every 6-hour step (HubSpot's search allows 5 requests a second).
                "crm_reconcile_every": 24 * 3600.0,
                **hubspot.settings,
            }
        )
        rt = build_runtime(settings, redis_url=redis_server.url, clock=clock)
        runtime_module.install(rt)
        try:
            server.start(create_app(rt))
            account_id = _run(rt, clock, server.base_url, console, hubspot)
            report = collect_report(rt, account_id)
            print_portal(console, hubspot.portal)
            svg = home / "timeline-alan.svg"
            print_contact_timeline(console, rt, "alan@example.com", start=start, svg=svg)
        finally:
            server.stop()
            runtime_module.install(None)
            rt.close()
    shutil.rmtree(redis_dir, ignore_errors=True)
    written = sorted(set(outbox.glob("*.eml")) - before)
    print_report(console, report, outbox=outbox, files=len(written), timeline=svg)
    return 0


def _run(rt: Runtime, clock: VirtualClock, base_url: str, console: Console,
         hubspot: DemoPortal) -> int:
    with rt.db.session() as session:
        account, _ = connect_account(
            session,
            rt.vault,
            provider="hubspot",
            external_id=str(PORTAL_ID),
            access_token=TOKEN,
            name="Demo portal",
            now=clock.now(),
        )
    deploy_default(rt.db, rt.settings, account.id, clock.now())
    with rt.db.session() as session:
        workspace = rt.workspaces.live(session, account.id).workspace
    subscriptions = hubspot.subscribe(f"{base_url}/webhooks/hubspot", workspace)
    demo = Demo(rt, clock, base_url, account.api_key, console, start=clock.now())
    names = hubspot.create_contacts()
    console.print(
        f"[bold]1.[/] {len(names)} contacts created in the emulated HubSpot portal "
        f"{PORTAL_ID} ({', '.join(names)}; Edsger opted out of email there): its signed "
        f"webhooks ({subscriptions} subscriptions) reach {base_url}/webhooks/hubspot"
    )
    hubspot.settle()
    drain(rt.queues)
    events: list[dict[str, Any]] = json.loads(SAMPLE.read_text())
    console.print(
        f"[bold]2.[/] {len(events)} events in through POST {base_url}/v1/events "
        "(sign-ups, orders, a product view, a cart; one order sent twice)"
    )
    for event in events:
        demo.post(event)
    drain(rt.queues)
    console.print(
        "[bold]3.[/] the first emails are out: Ada opens and clicks her welcome, "
        "Grace unsubscribes (one click)"
    )
    _engage(demo)
    later: list[dict[str, Any]] = json.loads(LATER.read_text())
    steps = DEMO_DAYS * (timedelta(days=1) // STEP)
    console.print(
        f"[bold]4.[/] {DEMO_DAYS} days pass on the virtual clock: the order ships "
        "and arrives, Alan clicks the product spotlight"
    )
    clicked = False
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("virtual days", total=steps)
        for _ in range(steps):
            demo.step()
            for item in [e for e in later if _due(e, demo)]:
                later.remove(item)
                demo.post({k: v for k, v in item.items() if k != "day"})
                drain(rt.queues)
            if not clicked:
                clicked = _click_spotlight(demo)
            progress.advance(task)
    demo.step()  # one more tick flushes the last write-backs
    return account.id


def _due(item: dict[str, Any], demo: Demo) -> bool:
    return demo.clock.now() >= demo.start + timedelta(days=item["day"])


def _engage(demo: Demo) -> None:
    welcome = demo.email("ada@example.com", "welcome")
    goodbye = demo.email("grace@example.com", "welcome")
    if welcome is None or goodbye is None:
        raise RuntimeError("the demo expected welcome emails for Ada and Grace")
    urls = _urls(welcome)
    urllib.request.urlopen(next(u for u in urls if "/t/o/" in u)).read()
    _get_without_redirect(next(u for u in urls if "/t/c/" in u))
    unsubscribe = str(goodbye["List-Unsubscribe"]).strip().strip("<>")
    request = urllib.request.Request(
        unsubscribe,
        data=b"List-Unsubscribe=One-Click",
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    urllib.request.urlopen(request).read()
    drain(demo.rt.queues)


def _click_spotlight(demo: Demo) -> bool:
    """Alan clicks the notebook in his spotlight email: "clicked A -> send B"."""
    spotlight = demo.email("alan@example.com", "product-spotlight")
    if spotlight is None:
        return False
    with demo.rt.db.session() as session:
        row = (
            session.query(Message)
            .filter_by(to_email="alan@example.com", template="product-spotlight")
            .one()
        )
    index = next(i for i, url in enumerate(row.links) if "linen-notebook" in url)
    tracked = [u for u in _urls(spotlight) if "/t/c/" in u]
    _get_without_redirect(tracked[index])
    drain(demo.rt.queues)
    return True


def _read_eml(rt: Runtime, message_id: str) -> EmailMessage:
    outbox = Path(rt.settings.mail.removeprefix("outbox://"))
    for path in outbox.glob("*.eml"):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        if message["Message-ID"] == message_id:
            return message  # type: ignore[return-value]
    raise FileNotFoundError(f"{message_id} is not in {outbox}")


def _urls(message: EmailMessage) -> list[str]:
    body = message.get_body(("html",))
    html = body.get_content() if body is not None else ""
    return [u.replace("&amp;", "&") for u in re.findall(r'(?:href|src)="([^"]+)"', html)]


def _get_without_redirect(url: str) -> int:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        return int(opener.open(url).status)
    except urllib.error.HTTPError as exc:  # the 302 itself
        return exc.code
