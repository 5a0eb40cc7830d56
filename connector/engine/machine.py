"""Human or machine: who fetched an open pixel or a tracked link.

Privacy proxies fetch every image of an email as it arrives (Apple Mail Privacy
Protection) and security gateways fetch every link to scan it, so a raw open or click
says little. Each hit is classified here from plain facts about the request; the services
record every hit and flag the machine ones, and flows, segments, rates and CRM summaries
count humans only. A table of rules, first match wins; each names its source. How it
decides, and its limits, is in docs/engagement.md.

Pure: no I/O, no clock; the services measure the facts (time since delivery, the links of
the message clicked just before) and pass them in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

Action = Literal["open", "click"]


@dataclass(frozen=True)
class Hit:
    """One GET of a tracking URL, as far as the classifier needs to know it."""

    action: Action
    user_agent: str
    since_sent: timedelta | None  # from our transport's acceptance; None: not marked sent
    # Other links (by position) of the same message clicked within `Thresholds.burst`.
    other_links_in_burst: int = 0


@dataclass(frozen=True)
class Thresholds:
    """The timing rules' limits."""

    # A click this soon after delivery is a gateway scanning the email on arrival.
    after_delivery: timedelta = timedelta(seconds=10)
    # `burst_links` different links of one message within `burst`: a scanner walking them.
    burst: timedelta = timedelta(seconds=2)
    burst_links: int = 2


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Human:
    """Counts: a person (possibly through a proxy that fetches on their behalf)."""


@dataclass(frozen=True)
class Machine:
    """Recorded but not counted; `reason` is the rule's stable name."""

    reason: str


Verdict = Human | Machine
HUMAN = Human()


@dataclass(frozen=True)
class Rule:
    reason: str  # stored in engagement_events.machine_reason (40 characters at most)
    actions: frozenset[Action]
    matches: Callable[[Hit, Thresholds], bool]
    source: str  # why we believe it; docs/engagement.md has the long form


def is_burst(other_links: int, thresholds: Thresholds) -> bool:
    """Whether a click, after `other_links` other links of its message within the burst
    window, makes a burst (then the earlier clicks of it are a machine's too)."""
    return other_links + 1 >= thresholds.burst_links


def _bare_mozilla(hit: Hit, _: Thresholds) -> bool:
    return hit.user_agent.strip() == "Mozilla/5.0"


def _agent(pattern: str) -> Callable[[Hit, Thresholds], bool]:
    compiled = re.compile(pattern, re.IGNORECASE)
    return lambda hit, _: compiled.search(hit.user_agent) is not None


# Email security gateways and Microsoft's link checkers that name themselves.
SCANNER_AGENTS = (
    r"proofpoint|mimecast|barracuda|forcepoint|ironport|bingpreview"
    r"|Microsoft Office Existence Discovery"
)
# HTTP libraries, command-line tools and headless browsers: scripts, not people.
SCRIPT_AGENTS = (
    r"^(curl|wget|python-requests|python-urllib|python-httpx|aiohttp|go-http-client"
    r"|java|apache-httpclient|okhttp|libwww-perl|node-fetch|axios)\b"
    r"|headlesschrome|phantomjs"
)
# Crawlers and the link previews of chat and social apps (a forwarded link unfurled).
# "bot/" and "bot-", not any "bot": the CUBOT phones' browsers say "CUBOT X30".
BOT_AGENTS = (
    r"bot[/-]|\bbot\b|telegrambot|crawler|spider|facebookexternalhit|whatsapp/"
    r"|skypeuripreview"
)

BOTH: frozenset[Action] = frozenset({"open", "click"})

RULES: tuple[Rule, ...] = (
    Rule("no-user-agent", BOTH, lambda hit, _: not hit.user_agent.strip(),
         "RFC 9110 10.1.5: user agents send User-Agent; every browser and mail client does"),
    Rule("apple-mpp", frozenset({"open"}), _bare_mozilla,
         "Apple Mail Privacy Protection prefetches through Apple's relays with the bare "
         "user agent 'Mozilla/5.0' (SocketLabs, Word to the Wise, 2021)"),
    Rule("bare-user-agent", frozenset({"click"}), _bare_mozilla,
         "no browser sends 'Mozilla/5.0' alone: they add platform and engine tokens"),
    Rule("scanner-user-agent", BOTH, _agent(SCANNER_AGENTS),
         "security gateways and Microsoft's link checkers that name themselves"),
    Rule("script-user-agent", BOTH, _agent(SCRIPT_AGENTS),
         "HTTP libraries and tools announce themselves by default"),
    Rule("bot-user-agent", BOTH, _agent(BOT_AGENTS),
         "crawlers and link previews name themselves (as in the IAB spiders and bots list)"),
    Rule("soon-after-delivery", frozenset({"click"}),
         lambda hit, limits: hit.since_sent is not None and hit.since_sent < limits.after_delivery,
         "gateways (Defender for Office 365, Proofpoint, Mimecast, Barracuda) scan links "
         "as the email arrives, before a person could have read it"),
    Rule("link-burst", frozenset({"click"}),
         lambda hit, limits: is_burst(hit.other_links_in_burst, limits),
         "scanners fetch every link at once; Marketo flags activities within two seconds"),
)


def classify(hit: Hit, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> Verdict:
    """The first rule that matches names the machine; none: a human."""
    for rule in RULES:
        if hit.action in rule.actions and rule.matches(hit, thresholds):
            return Machine(rule.reason)
    return HUMAN
