"""The human / machine classifier, rule by rule, with user agents of the kinds mail clients,
proxies, scanners and scripts send."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connector.engine.machine import HUMAN, RULES, Hit, Machine, Thresholds, classify, is_burst

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
IPHONE_MAIL = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
               "(KHTML, like Gecko) Mobile/15E148")
OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)"
GMAIL_PROXY = ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 "
               "(via ggpht.com GoogleImageProxy)")
YAHOO_PROXY = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"
CUBOT = ("Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.0.0 Mobile Safari/537.36")
LATER = timedelta(minutes=5)


def hit_open(user_agent: str) -> Hit:
    return Hit("open", user_agent, LATER)


def hit_click(user_agent: str = CHROME, since_sent: timedelta | None = LATER,
              others: int = 0) -> Hit:
    return Hit("click", user_agent, since_sent, others)


@pytest.mark.parametrize("agent", [CHROME, IPHONE_MAIL, OUTLOOK, CUBOT])
def test_people_in_their_mail_clients_and_browsers_are_human(agent: str) -> None:
    assert classify(hit_open(agent)) == HUMAN
    assert classify(hit_click(agent)) == HUMAN


@pytest.mark.parametrize("agent", [GMAIL_PROXY, YAHOO_PROXY])
def test_gmail_and_yahoo_proxies_fetch_when_the_person_opens_so_they_count(agent: str) -> None:
    assert classify(hit_open(agent)) == HUMAN


@pytest.mark.parametrize("agent", ["", "   "])
def test_no_user_agent_is_a_machine(agent: str) -> None:
    assert classify(hit_open(agent)) == Machine("no-user-agent")
    assert classify(hit_click(agent)) == Machine("no-user-agent")


def test_the_bare_mozilla_agent_is_apple_mail_privacy_protection_on_opens() -> None:
    assert classify(hit_open("Mozilla/5.0")) == Machine("apple-mpp")
    # Apple Mail without MPP names the platform and engine: a person.
    assert classify(hit_open(IPHONE_MAIL)) == HUMAN


def test_a_click_with_the_bare_mozilla_agent_is_no_browser() -> None:
    assert classify(hit_click("Mozilla/5.0")) == Machine("bare-user-agent")


@pytest.mark.parametrize("agent", [
    "Mozilla/5.0 (compatible; Proofpoint URL Defense)",
    "Mimecast-URL-Protect/1.0",
    "Barracuda Sentinel (EE)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Trident/7.0; BingPreview/1.0b) like Gecko",
    "Microsoft Office Existence Discovery",
])
def test_security_scanners_that_name_themselves(agent: str) -> None:
    assert classify(hit_click(agent)) == Machine("scanner-user-agent")
    assert classify(hit_open(agent)) == Machine("scanner-user-agent")


@pytest.mark.parametrize("agent", [
    "python-requests/2.31.0", "Python-urllib/3.11", "curl/8.5.0", "Wget/1.21.4",
    "Go-http-client/1.1", "Java/17.0.2", "Apache-HttpClient/4.5.14 (Java/17.0.2)",
    "okhttp/4.12.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.0.0 Safari/537.36",
])
def test_http_libraries_and_headless_browsers_are_scripts(agent: str) -> None:
    assert classify(hit_click(agent)) == Machine("script-user-agent")


@pytest.mark.parametrize("agent", [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "TelegramBot (like TwitterBot)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "WhatsApp/2.23.20.0",
    "SomeCrawler/1.0",
])
def test_crawlers_and_link_previews_are_bots(agent: str) -> None:
    assert classify(hit_click(agent)) == Machine("bot-user-agent")


def test_a_click_within_seconds_of_delivery_is_a_gateway_scanning_it() -> None:
    assert classify(hit_click(since_sent=timedelta(seconds=3))) == Machine("soon-after-delivery")
    assert classify(hit_click(since_sent=timedelta(seconds=10))) == HUMAN
    # Our clock ahead of the transport's acceptance: still "at once".
    assert classify(hit_click(since_sent=timedelta(seconds=-1))) == Machine("soon-after-delivery")
    # Never marked sent (an uncertain send): the rule cannot tell, the others still do.
    assert classify(hit_click(since_sent=None)) == HUMAN
    # Opens have no such rule: Apple's prefetch is told by its agent, a person may be quick.
    assert classify(Hit("open", CHROME, timedelta(seconds=1))) == HUMAN


def test_the_delivery_window_is_configurable() -> None:
    patient = Thresholds(after_delivery=timedelta(minutes=2))
    assert classify(hit_click(since_sent=timedelta(seconds=90)), patient) == Machine(
        "soon-after-delivery")
    assert classify(hit_click(since_sent=timedelta(seconds=90))) == HUMAN


def test_another_link_of_the_message_just_before_is_a_burst() -> None:
    assert classify(hit_click(others=1)) == Machine("link-burst")
    assert classify(hit_click(others=0)) == HUMAN
    three = Thresholds(burst_links=3)
    assert classify(hit_click(others=1), three) == HUMAN
    assert classify(hit_click(others=2), three) == Machine("link-burst")
    assert is_burst(1, Thresholds()) and not is_burst(1, three)


def test_the_first_matching_rule_names_the_machine() -> None:
    # A scanner with a script's agent, right after delivery, among other links.
    hit = hit_click("python-requests/2.31.0", timedelta(seconds=1), others=3)
    assert classify(hit) == Machine("script-user-agent")


def test_every_rule_has_a_short_unique_reason_and_a_source() -> None:
    reasons = [rule.reason for rule in RULES]
    assert len(set(reasons)) == len(reasons)
    assert all(len(reason) <= 40 for reason in reasons)  # engagement_events.machine_reason
    assert all(rule.source and rule.actions for rule in RULES)
