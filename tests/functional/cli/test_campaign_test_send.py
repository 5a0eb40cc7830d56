"""`connector campaigns test-send` through the real CLI, into a real SMTP server (aiosmtpd),
on a database of the test's own: what arrives (the "[Test] " subject, the To, the merge
tags of the `--as` contact, untracked links with the campaign's UTM parameters, the
preview's unsubscribe link), that the campaign's status and report do not change, and
every refusal sending nothing."""

from __future__ import annotations

import html as html_lib
import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from connector import runtime as runtime_module
from connector.cli import main
from connector.db import Database
from connector.local.inprocess import drain
from connector.models import (
    CampaignRecipient,
    CampaignRun,
    Contact,
    CrmWriteback,
    ListMembership,
    Message,
    Suppression,
)
from connector.runtime import build_runtime
from connector.settings import load_settings
from tests.support.paths import ROOT
from tests.support.smtp import SmtpServer

NEWSLETTER = ("name: Newsletter\ntemplate: seasonal-sale\naudience: {list: newsletter}\n"
              "utm: {source: drip, medium: email}\n")
AB = """\
name: Subject test
variants:
  - {key: urgency, template: seasonal-sale, subject: "This weekend only", sample: 0.5}
  - {key: friendly, template: seasonal-sale, subject: "A little treat", sample: 0.5}
audience: {list: newsletter}
"""
EMPTY = "name: Nobody\ntemplate: seasonal-sale\naudience: {list: nobody}\n"
BROKEN = "name: Broken\ntemplate: broken\naudience: {list: newsletter}\n"
# Renders for the deploy's bare sample contact as for anyone: fails at line 3.
BROKEN_BODY = ("<mjml><mj-body><mj-section><mj-column>\n<mj-text>Hi</mj-text>\n"
               "<mj-text>{{ contact.nothing.here }}</mj-text>\n"
               "</mj-column></mj-section></mj-body></mjml>\n")


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


@pytest.fixture
def mail_env(env: dict[str, str], smtp_server: SmtpServer) -> dict[str, str]:
    return env | {"MAIL_URL": smtp_server.url, "PUBLIC_BASE_URL": "https://drip.example.com",
                  "MAIL_FROM": "Acme <hello@acme.example>"}


@pytest.fixture
def cli_db(mail_env: dict[str, str]) -> Iterator[Database]:
    database = Database(mail_env["DATABASE_URL"])
    yield database
    database.dispose()


@pytest.fixture
def account(mail_env: dict[str, str], tmp_path: Path, cli_db: Database) -> int:
    """Account 1, whose live workspace has the campaigns above; Ada (a customer, CRM id
    501), Bo and an opted-out reader are on the newsletter list."""
    connected = run(mail_env, "accounts", "connect", "hubspot", "--portal-id", "7",
                    "--access-token", "pat-x")
    assert connected.exit_code == 0, connected.output
    workspace = tmp_path / "ws"
    for part in ("flows", "segments", "templates"):
        shutil.copytree(ROOT / part, workspace / part)
    (workspace / "templates" / "broken").mkdir()
    (workspace / "templates" / "broken" / "subject.txt").write_text("Broken\n")
    (workspace / "templates" / "broken" / "body.mjml").write_text(BROKEN_BODY)
    (workspace / "campaigns").mkdir()
    for key, text in (("newsletter", NEWSLETTER), ("ab", AB), ("empty", EMPTY),
                      ("broken", BROKEN)):
        (workspace / "campaigns" / f"{key}.yaml").write_text(text)
    deployed = run(mail_env, "deploy", str(workspace), "--account", "1")
    assert deployed.exit_code == 0, deployed.output
    now = datetime.now(UTC)
    with cli_db.session() as session:
        for email, crm_id, properties in (
            ("bo@example.com", "502", {"firstname": "Bo"}),
            ("ada@example.com", "501", {"firstname": "Ada", "lifecyclestage": "customer"}),
            ("gone@example.com", "503", {"firstname": "Gone", "hs_email_optout": "true"}),
        ):
            contact = Contact(account_id=1, email=email, crm_id=crm_id,
                              properties=properties, created_at=now, updated_at=now)
            session.add(contact)
            session.flush()
            session.add(ListMembership(account_id=1, contact_id=contact.id,
                                       list_key="newsletter", added_at=now))
        session.add(Suppression(account_id=1, email="left@example.com",
                                reason="unsubscribed", created_at=now))
    return 1


def counts(db: Database) -> dict[str, int]:
    """Every row a send would write: none of them may come from a test."""
    with db.session() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                or 0 for model in (CampaignRun, CampaignRecipient, Message, CrmWriteback)}


def html_of(message: EmailMessage) -> str:
    body = message.get_body(("html",))
    assert isinstance(body, EmailMessage)
    return str(body.get_content())


def test_a_test_goes_to_the_addresses_rendered_for_the_contact_and_counts_nowhere(
    mail_env: dict[str, str], account: int, cli_db: Database, smtp_server: SmtpServer
) -> None:
    before = counts(cli_db)
    result = run(mail_env, "campaigns", "test-send", "newsletter", "--to", "Me@Acme.example",
                 "--to", "boss@acme.example", "--as", "ada@example.com")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "newsletter: rendered for ada@example.com"
    assert len(lines) == 3
    assert re.fullmatch(r"sent  -  '\[Test\] Ada, our spring sale is on: 20% off "
                        r"everything'  to me@acme\.example  [\d,]+ bytes", lines[1])
    assert lines[2].startswith("sent  -  '[Test] Ada, our spring sale") and \
        "to boss@acme.example" in lines[2]

    assert [m["To"] for m in smtp_server.messages] == ["me@acme.example", "boss@acme.example"]
    message = smtp_server.messages[0]
    assert message["Subject"] == "[Test] Ada, our spring sale is on: 20% off everything"
    assert message["From"] == "Acme <hello@acme.example>"
    assert message["List-Unsubscribe"] == "<https://drip.example.com/u/preview>"
    html = html_of(message)
    assert "Hi Ada," in html
    assert "Order your favourites again" in html  # Ada's block: she is a customer
    links = re.findall(r'href="([^"]+)"', html)
    assert ("https://example.com/account/orders?utm_campaign=newsletter&amp;utm_source=drip"
            "&amp;utm_medium=email") in links
    assert not any("/t/c/" in link for link in links)  # not tracked
    assert "/t/o/" not in html  # no open pixel
    assert "https://drip.example.com/u/preview" in html

    assert counts(cli_db) == before == {"campaigns": 0, "campaign_recipients": 0, "messages": 0,
                                    "crm_writebacks": 0}
    status = run(mail_env, "campaigns", "status", "newsletter", "--json")
    assert json.loads(status.output)["state"] == "draft"
    assert json.loads(status.output)["sent"] == 0
    report = run(mail_env, "campaigns", "report", "newsletter")
    assert report.exit_code == 1
    assert "newsletter has not been started: nothing to report" in report.output


def test_by_crm_id_with_json_and_each_variant_of_an_ab_test(
    mail_env: dict[str, str], account: int, smtp_server: SmtpServer
) -> None:
    result = run(mail_env, "campaigns", "test-send", "ab", "--to", "me@acme.example",
                 "--as", "502", "--json", "--account", "1")
    assert result.exit_code == 0, result.output
    sent = json.loads(result.output)
    assert [(e["variant"], e["subject"], e["to"]) for e in sent] == [
        ("urgency", "[Test] This weekend only", "me@acme.example"),
        ("friendly", "[Test] A little treat", "me@acme.example")]
    assert all(e["contact"] == {"source": "as", "email": "bo@example.com", "crm_id": "502"}
               for e in sent)
    assert all(e["size"] > 1000 for e in sent)
    assert {m["Message-ID"] for m in smtp_server.messages} == {e["message_id"] for e in sent}
    assert all("Hi Bo," in html_of(m) for m in smtp_server.messages)

    one = run(mail_env, "campaigns", "test-send", "ab", "--to", "me@acme.example",
              "--variant", "friendly")
    assert one.exit_code == 0, one.output
    assert smtp_server.messages[-1]["Subject"] == "[Test] A little treat"
    assert len(smtp_server.messages) == 3


def test_without_as_the_audiences_first_member_else_a_placeholder_says_which(
    mail_env: dict[str, str], account: int, smtp_server: SmtpServer
) -> None:
    first = run(mail_env, "campaigns", "test-send", "newsletter", "--to", "me@acme.example")
    assert first.exit_code == 0, first.output
    # The list's first contact by id is Bo.
    assert first.output.splitlines()[0] == (
        "newsletter: rendered for bo@example.com, the audience's first member")
    assert "Hi Bo," in html_of(smtp_server.messages[-1])

    nobody = run(mail_env, "campaigns", "test-send", "empty", "--to", "me@acme.example")
    assert nobody.exit_code == 0, nobody.output
    assert nobody.output.splitlines()[0] == (
        "empty: rendered for a sample contact with placeholder properties (firstname "
        "'Sample', lastname 'Contact'): none was named and the audience has nobody to "
        "render for")
    assert "Hi Sample," in html_of(smtp_server.messages[-1])


@pytest.mark.parametrize(("args", "words"), [
    (["nope", "--to", "me@acme.example"],
     "account 1 has no campaign 'nope', started or in its live workspace (campaigns: ab, "
     "broken, empty, newsletter)"),
    (["newsletter", "--to", "me@acme.example", "--as", "nobody@example.com"],
     "account 1 has no contact with email 'nobody@example.com' (nothing sent)"),
    (["newsletter", "--to", "me@acme.example", "--as", "999"],
     "account 1 has no contact with crm_id '999'"),
    (["newsletter", *[a for n in range(11) for a in ("--to", f"me{n}@acme.example")]],
     "11 addresses: a test goes to at most 10 (nothing sent)"),
    (["newsletter", "--to", "me@acme.example", "--to", "not an address"],
     "'not an address' is not an email address (nothing sent)"),
    (["newsletter", "--to", "me@acme.example", "--to", "LEFT@example.com"],
     "left@example.com is suppressed (unsubscribed): a test is not sent to an address the "
     "account must not mail"),
    (["newsletter", "--to", "gone@example.com"],
     "gone@example.com is opted out in the CRM"),
    (["ab", "--to", "me@acme.example", "--variant", "calm"],
     "campaign ab has no variant 'calm' (variants: urgency, friendly)"),
    (["newsletter", "--to", "me@acme.example", "--variant", "urgency"],
     "campaign newsletter has no variants (it is not an A/B test)"),
], ids=["unknown-key", "unknown-email", "unknown-crm-id", "eleven", "invalid", "suppressed",
        "opted-out", "unknown-variant", "no-variants"])
def test_a_refusal_exits_2_and_sends_nothing(
    mail_env: dict[str, str], account: int, smtp_server: SmtpServer, args: list[str],
    words: str
) -> None:
    result = run(mail_env, "campaigns", "test-send", *args)
    assert result.exit_code == 2, result.output
    assert words in " ".join(result.output.split())
    assert smtp_server.messages == []


def test_a_template_error_names_file_and_line_and_sends_nothing(
    mail_env: dict[str, str], account: int, smtp_server: SmtpServer
) -> None:
    result = run(mail_env, "campaigns", "test-send", "broken", "--to", "me@acme.example")
    assert result.exit_code == 1, result.output
    assert "template 'broken' (body.mjml, line 3): undefined value" in result.output
    assert "(nothing sent)" in result.output
    assert smtp_server.messages == []


def test_a_mail_server_refusal_is_said_and_exits_1(
    mail_env: dict[str, str], account: int, smtp_server: SmtpServer
) -> None:
    smtp_server.sink.reply_for["boss@acme.example"] = "550 5.1.1 no such user"
    result = run(mail_env, "campaigns", "test-send", "newsletter", "--to", "me@acme.example",
                 "--to", "boss@acme.example")
    assert result.exit_code == 1
    assert "to me@acme.example" in result.output
    assert "1 of 2 test email(s) not sent: boss@acme.example (no variant):" in result.output
    assert [m["To"] for m in smtp_server.messages] == ["me@acme.example"]


def test_a_sent_campaign_can_be_tested_and_its_status_and_report_stay_as_they_were(
    mail_env: dict[str, str], account: int, cli_db: Database, smtp_server: SmtpServer,
    redis_url: str, redis_conn: redis.Redis
) -> None:
    send_env = mail_env | {"REDIS_URL": redis_url}
    started = run(send_env, "campaigns", "send", "newsletter")
    assert started.exit_code == 0, started.output
    rt = build_runtime(load_settings(**send_env))
    runtime_module.install(rt)
    try:
        drain(rt.queues)
    finally:
        runtime_module.install(None)
        rt.close()
    status_before = json.loads(run(mail_env, "campaigns", "status", "newsletter",
                                   "--json").output)
    assert status_before["state"] == "sent" and status_before["sent"] == 2
    report_before = json.loads(run(mail_env, "campaigns", "report", "newsletter",
                                   "--json").output)
    rows_before = counts(cli_db)
    mailed = len(smtp_server.messages)

    result = run(mail_env, "campaigns", "test-send", "newsletter", "--to", "me@acme.example")
    assert result.exit_code == 0, result.output
    # The frozen audience's first recipient (the list's first contact, Bo).
    assert "rendered for bo@example.com, the audience's first member" in result.output
    assert len(smtp_server.messages) == mailed + 1
    test = smtp_server.messages[-1]
    assert test["Subject"].startswith("[Test] Bo, our spring sale")
    # The same email as Bo's real one: its links are the ones the real send tracks.
    with cli_db.session() as session:
        real = session.scalars(select(Message).where(Message.to_email == "bo@example.com")
                               ).one()
        assert test["Subject"] == f"[Test] {real.subject}"
        tracked = [html_lib.unescape(link) for link in re.findall(r'href="([^"]+)"',
                                                                  html_of(test))
                   if "/u/preview" not in link]
        assert tracked == real.links

    status_after = json.loads(run(mail_env, "campaigns", "status", "newsletter",
                                  "--json").output)
    assert status_after == status_before
    report_after = json.loads(run(mail_env, "campaigns", "report", "newsletter",
                                  "--json").output)
    assert report_after == report_before
    assert counts(cli_db) == rows_before
