"""`connector demo`: the whole mission on embedded defaults, on a virtual clock.

Sample contacts are created in an emulated HubSpot portal (devcrm.hubspot), whose signed
webhooks reach the real /webhooks/hubspot endpoint, and Contacts and Leads in an emulated
Salesforce org (devcrm.salesforce), whose SOAP Outbound Messages reach the real
/webhooks/salesforce/outbound endpoint; orders, a product view and a cart arrive through
the real /v1/events endpoint; RQ jobs run on an embedded Redis; the shipped flows send
into the outbox folder; opens, clicks and unsubscribes go through the real tracking
endpoints; shipping and delivery events arrive days later and a Lead is converted in
Salesforce; write-backs reach each CRM through its real adapter (email engagements and
the app's properties on HubSpot timelines, Tasks on Salesforce Activity Timelines, the
opt-outs); a summary, what a rep sees in each CRM and a flow timeline are printed. Days
pass in seconds because every service reads the clock (both emulated CRMs' too).
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
from connector.cli.demo_report import (
    collect_report,
    emails_sent,
    print_campaign,
    print_contact_timeline,
    print_report,
)
from connector.cli.demo_salesforce import DemoOrg, demo_org, print_org
from connector.clock import VirtualClock
from connector.email.outbox import OutboxTransport
from connector.local.inprocess import drain
from connector.local.redis_embedded import EmbeddedRedis
from connector.local.webserver import WebServer
from connector.migrate import upgrade
from connector.models import Message
from connector.runtime import Runtime, build_runtime
from connector.services.accounts import connect_account
from connector.services.campaigns import start_campaign
from connector.settings import Settings
from connector.workspaces import deploy_default

DEMO_DAYS = 12
STEP = timedelta(hours=6)
SAMPLE = Path(__file__).parent / "demo_data" / "events.json"
LATER = Path(__file__).parent / "demo_data" / "later.json"  # {"day": n, **event}
SALE = "spring-sale"  # the repo's campaign (campaigns/spring-sale.yaml)
READER_AGENT = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 "
                "(KHTML, like Gecko) Version/17.5 Safari/605.1.15")


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
    with EmbeddedRedis(redis_dir) as redis_server, demo_portal(clock) as hubspot, \
            demo_org(clock) as salesforce:
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
                **salesforce.settings,
            }
        )
        rt = build_runtime(settings, redis_url=redis_server.url, clock=clock)
        runtime_module.install(rt)
        try:
            server.start(create_app(rt))
            portal_account, org_account = _run(rt, clock, server.base_url, console, hubspot,
                                               salesforce)
            report = collect_report(rt, [portal_account, org_account])
            print_portal(console, hubspot.portal)
            print_org(console, salesforce,
                      emails_sent=emails_sent(collect_report(rt, [org_account])))
            svg = home / "timeline-alan.svg"
            print_contact_timeline(console, rt, "alan@example.com", start=start, svg=svg)
            print_campaign(console, rt, portal_account, SALE, svg=home / f"campaign-{SALE}.svg")
        finally:
            server.stop()
            runtime_module.install(None)
            rt.close()
    shutil.rmtree(redis_dir, ignore_errors=True)
    written = sorted(set(outbox.glob("*.eml")) - before)
    print_report(console, report, outbox=outbox, files=len(written), timeline=svg)
    return 0


def _run(rt: Runtime, clock: VirtualClock, base_url: str, console: Console,
         hubspot: DemoPortal, salesforce: DemoOrg) -> tuple[int, int]:
    """The story; the HubSpot and Salesforce accounts' ids."""
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
    org_account = salesforce.connect(rt, base_url, clock.now())
    console.print(f"[bold]2.[/] {salesforce.create_people()}")
    salesforce.settle()
    drain(rt.queues)
    events: list[dict[str, Any]] = json.loads(SAMPLE.read_text())
    console.print(
        f"[bold]3.[/] {len(events)} events in through POST {base_url}/v1/events "
        "(sign-ups, orders, a product view, a cart; one order sent twice)"
    )
    for event in events:
        demo.post(event)
    drain(rt.queues)
    console.print(
        "[bold]4.[/] the first emails are out; six hours later Ada opens and clicks her "
        "welcome, Grace unsubscribes (one click), and in Salesforce Hedy opens hers and "
        "Margaret unsubscribes"
    )
    demo.step()
    _engage(demo, [("ada@example.com", "open and click"), ("grace@example.com", "unsubscribe"),
                   *salesforce.after_welcome()])
    later: list[dict[str, Any]] = json.loads(LATER.read_text())
    steps = DEMO_DAYS * (timedelta(days=1) // STEP)
    console.print(
        f"[bold]5.[/] {DEMO_DAYS} days pass on the virtual clock: the order ships "
        "and arrives, Alan clicks the product spotlight, Hedy's Lead is converted to a "
        "Contact in Salesforce on day 1 (her flows follow her)"
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
            if salesforce.convert_due(demo.start, clock.now()):
                salesforce.settle()
                drain(rt.queues)
            progress.advance(task)
    _spring_sale(demo, account.id)
    demo.step()  # one more tick flushes the last write-backs
    salesforce.settle()  # the org's echo of those writes (its Outbound Messages)
    drain(rt.queues)
    return account.id, org_account


def _spring_sale(demo: Demo, account_id: int) -> None:
    """The repo's spring-sale campaign to the portal's engaged readers (not the VIPs);
    six hours on, Ada opens it and clicks its first link."""
    start_campaign(demo.rt, account_id, SALE)
    drain(demo.rt.queues)
    demo.console.print(
        f"[bold]6.[/] on day {DEMO_DAYS} the {SALE} campaign goes to the portal's engaged "
        "readers (opened or clicked in the last 30 days, VIPs excluded); six hours later "
        "Ada opens it and clicks"
    )
    demo.step()
    sale = demo.email("ada@example.com", "seasonal-sale")
    if sale is None:
        raise RuntimeError(f"the demo expected the {SALE} campaign to reach ada@example.com")
    urls = _urls(sale)
    _as_reader(next(u for u in urls if "/t/o/" in u))
    _as_reader(next(u for u in urls if "/t/c/" in u))
    drain(demo.rt.queues)


def _due(item: dict[str, Any], demo: Demo) -> bool:
    return demo.clock.now() >= demo.start + timedelta(days=item["day"])


def _engage(demo: Demo, actions: list[tuple[str, str]]) -> None:
    """Each (email, action) on that person's welcome: "open", "open and click" (its first
    link) or "unsubscribe" (the one-click List-Unsubscribe POST)."""
    for to, action in actions:
        welcome = demo.email(to, "welcome")
        if welcome is None:
            raise RuntimeError(f"the demo expected a welcome email for {to}")
        urls = _urls(welcome)
        if action.startswith("open"):
            _as_reader(next(u for u in urls if "/t/o/" in u))
        if action.endswith("click"):
            _as_reader(next(u for u in urls if "/t/c/" in u))
        if action == "unsubscribe":
            _as_reader(str(welcome["List-Unsubscribe"]).strip().strip("<>"),
                       form=b"List-Unsubscribe=One-Click")
    drain(demo.rt.queues)


def _click_spotlight(demo: Demo) -> bool:
    """Alan clicks the notebook in his spotlight email: "clicked A -> send B". He reads it
    a step after it arrived: a click on delivery is a link scanner's (engine/machine.py)."""
    with demo.rt.db.session() as session:
        row = (
            session.query(Message)
            .filter_by(to_email="alan@example.com", template="product-spotlight", status="sent")
            .one_or_none()
        )
    if row is None or row.sent_at is None or row.sent_at >= demo.clock.now():
        return False
    spotlight = _read_eml(demo.rt, row.message_id_header or "")
    index = next(i for i, url in enumerate(row.links) if "linen-notebook" in url)
    tracked = [u for u in _urls(spotlight) if "/t/c/" in u]
    _as_reader(tracked[index])
    drain(demo.rt.queues)
    return True


def _read_eml(rt: Runtime, message_id: str) -> EmailMessage:
    """The sent message, from the file the outbox names after its Message-ID."""
    outbox = OutboxTransport(rt.settings.mail.removeprefix("outbox://"))
    probe = EmailMessage()
    probe["Message-ID"] = message_id
    path = outbox.path_for(probe)
    if not path.exists():
        raise FileNotFoundError(f"{message_id} is not in {outbox.directory}")
    return message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[return-value]


def _urls(message: EmailMessage) -> list[str]:
    body = message.get_body(("html",))
    html = body.get_content() if body is not None else ""
    return [u.replace("&amp;", "&") for u in re.findall(r'(?:href|src)="([^"]+)"', html)]


def _as_reader(url: str, *, form: bytes | None = None) -> int:
    """GET (or POST `form` to) a tracking URL as a person's browser or mail client does,
    not following the redirect: a script's user agent would be counted as a machine's hit
    (engine/machine.py). The answer's status."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    headers = {"User-Agent": READER_AGENT}
    if form is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(url, data=form, headers=headers)
    try:
        with urllib.request.build_opener(NoRedirect).open(request) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:  # the 302 itself
        return exc.code
