"""The campaign report over a real send: an A/B campaign mailed over SMTP, a link
scanner's and a privacy proxy's hits and people's opens, clicks and an unsubscribe through
the real tracking endpoints; the funnel, per link, per variant, the hourly curve, the
CSV rows and the SVG read back."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from connector.cli.campaign_report import write_csv
from connector.cli.campaign_report_svg import report_svg
from connector.clock import VirtualClock
from connector.runtime import Runtime
from connector.services.accounts import AccountView
from connector.services.campaigns import start_campaign
from connector.services.campaigns.report import CURVE_HOURS, CampaignReport, campaign_report
from connector.services.campaigns.report_rows import recipient_rows
from connector.services.suppressions import suppress
from tests.integration.campaigns.conftest import UseCampaigns, add_contacts
from tests.integration.flows.test_machine_engagement import APPLE_MPP, CHROME, tracked
from tests.support.jobs import work
from tests.support.smtp import SmtpServer

SPLIT = """\
name: Split
variants:
  - {key: short, template: seasonal-sale, subject: "20% off", sample: 0.5}
  - {key: long, template: seasonal-sale, subject: "Twenty percent off everything", sample: 0.5}
audience:
  list: newsletter
"""
READERS = 8


@pytest.fixture
def sent(smtp_rt: Runtime, account: AccountView, use_campaigns: UseCampaigns,
         smtp_server: SmtpServer, client: FlaskClient, clock: VirtualClock
         ) -> dict[str, EmailMessage]:
    """The split campaign sent to READERS contacts (one more suppressed before the
    start), then: reader0's gateway scans every link on delivery, reader1's Apple Mail
    prefetches the pixel, reader2 opens two hours on and clicks the first link, reader3
    opens and clicks the second link twice an hour later, reader4 unsubscribes. The
    emails by address."""
    use_campaigns(split=SPLIT)
    add_contacts(smtp_rt, account.id, READERS + 1)
    with smtp_rt.db.session() as session:
        suppress(session, account.id, f"reader{READERS}@example.com", "unsubscribed",
                 clock.now())
    start_campaign(smtp_rt, account.id, "split")
    work(smtp_rt)
    emails = {str(m["To"]): m for m in smtp_server.messages}

    def get(to: str, kind: str, index: int, agent: str = CHROME) -> None:
        answer = client.get(tracked(emails[to], kind)[index], headers={"User-Agent": agent})
        assert answer.status_code in (200, 302)

    clock.advance(timedelta(seconds=1))
    for index in range(len(tracked(emails["reader0@example.com"], "c"))):
        get("reader0@example.com", "c", index)
    get("reader1@example.com", "o", 0, APPLE_MPP)
    clock.advance(timedelta(hours=2))
    get("reader2@example.com", "o", 0)
    get("reader2@example.com", "c", 0)
    clock.advance(timedelta(hours=1))
    get("reader3@example.com", "o", 0)
    get("reader3@example.com", "c", 1)
    clock.advance(timedelta(minutes=1))
    get("reader3@example.com", "c", 1)
    unsubscribe = str(emails["reader4@example.com"]["List-Unsubscribe"]).strip().strip("<>")
    assert client.post(urlsplit(unsubscribe).path,
                       data={"List-Unsubscribe": "One-Click"}).status_code in (200, 204)
    work(smtp_rt)
    return emails


def report_of(rt: Runtime, account: AccountView) -> CampaignReport:
    with rt.db.session() as session:
        found = campaign_report(session, account.id, "split", now=rt.clock.now())
    assert found is not None
    return found


def test_the_funnel_counts_people_once_and_machines_apart(
    smtp_rt: Runtime, account: AccountView, sent: dict[str, EmailMessage]
) -> None:
    report = report_of(smtp_rt, account)
    f = report.funnel

    assert (f.audience, f.sent, f.bounced, f.delivered) == (READERS + 1, READERS, 0, READERS)
    assert report.skipped == {"unsubscribed": 1} and report.failed == 0
    assert (f.opened, f.opened_machine) == (2, 1)  # reader2 and reader3; reader1's proxy
    assert (f.clicked, f.clicked_machine) == (2, 1)  # reader2 and reader3; reader0's scanner
    assert f.unsubscribed == 1
    assert f.rate(f.opened) == pytest.approx(2 / READERS) and f.click_to_open == 1.0
    assert report.as_json()["funnel"]["open_rate"] == round(2 / READERS, 4)


def test_clicks_per_link_by_position_and_per_variant(
    smtp_rt: Runtime, account: AccountView, sent: dict[str, EmailMessage]
) -> None:
    report = report_of(smtp_rt, account)
    links = {link.position: link for link in report.links}
    scanned = len(tracked(sent["reader0@example.com"], "c"))

    assert len(links) == scanned and {link.template for link in report.links} == {
        "seasonal-sale"}
    assert (links[0].clickers, links[0].clicks, links[0].machine_clicks) == (1, 1, 1)
    assert (links[1].clickers, links[1].clicks, links[1].machine_clicks) == (1, 2, 1)
    assert all(link.url.startswith("http") for link in report.links)

    assert set(report.variants) == {"short", "long"}
    assert sum(v.audience for v in report.variants.values()) == READERS + 1
    assert sum(v.clicked for v in report.variants.values()) == 2
    assert sum(v.sent for v in report.variants.values()) == READERS


def test_the_first_72_hours_hour_by_hour_count_people_only(
    smtp_rt: Runtime, account: AccountView, sent: dict[str, EmailMessage]
) -> None:
    report = report_of(smtp_rt, account)

    assert len(report.hourly_opens) == len(report.hourly_clicks) == CURVE_HOURS
    assert {h: n for h, n in enumerate(report.hourly_opens) if n} == {2: 1, 3: 1}
    assert {h: n for h, n in enumerate(report.hourly_clicks) if n} == {2: 1, 3: 2}


def test_the_csv_has_one_row_per_recipient_streamed_in_chunks(
    smtp_rt: Runtime, account: AccountView, sent: dict[str, EmailMessage]
) -> None:
    report = report_of(smtp_rt, account)
    with smtp_rt.db.session() as session:
        rows = {r["email"]: r for r in recipient_rows(session, report.campaign_id, chunk=3)}
        out = io.StringIO()
        write_csv(out, session, report.campaign_id)

    assert len(rows) == READERS + 1
    assert rows[f"reader{READERS}@example.com"]["state"] == "skipped: unsubscribed"
    assert rows["reader0@example.com"]["machine_reasons"] == "soon-after-delivery"
    assert rows["reader0@example.com"]["clicks"] == 0
    assert rows["reader1@example.com"]["machine_opens"] == 1
    assert rows["reader1@example.com"]["first_open"] is None
    reader3 = rows["reader3@example.com"]
    assert reader3["state"] == "sent" and reader3["clicks"] == 2
    assert reader3["first_click"] - reader3["first_open"] == timedelta(0)
    assert rows["reader4@example.com"]["unsubscribed"] is True
    assert {r["variant"] for r in rows.values()} == {"short", "long"}
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("email,variant,state,sent_at") and len(lines) == READERS + 2


def test_the_svg_is_well_formed_with_the_funnel_and_both_curves(
    smtp_rt: Runtime, account: AccountView, sent: dict[str, EmailMessage]
) -> None:
    svg = ET.fromstring(report_svg(report_of(smtp_rt, account)))

    ns = {"s": "http://www.w3.org/2000/svg"}
    texts = [t.text or "" for t in svg.iterfind(".//s:text", ns)]
    assert "audience" in texts and "skipped: unsubscribed" in texts
    assert len(svg.findall(".//s:polyline", ns)) == 2
    assert "opens 2" in texts and "clicks 3" in texts
