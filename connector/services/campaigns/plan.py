"""What a started campaign sends, fixed when it starts (a redeploy during a send changes
nothing of it): the audience rule, the template or variants, subject, sender, throttle and
UTM parameters, as JSON on the campaigns row."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from connector.engine.campaigns import Campaign
from connector.engine.rules import Rule, rule_from_dict, rule_to_dict


@dataclass(frozen=True)
class Choice:
    """What one recipient gets: its variant (None without an A/B test), template, subject."""

    variant: str | None
    template: str
    subject: str | None


def not_built(campaign: Campaign) -> str | None:
    """Why this campaign cannot be sent by this version, or None."""
    if campaign.local_time is not None:
        return "local_time (each contact at a wall time of their own) is not built yet"
    if campaign.test is not None and campaign.test.rest > 0:
        return (f"the A/B test leaves {campaign.test.rest:.0%} of the audience for a winner; "
                "picking a winner is not built yet (samples adding up to 1 can be sent)")
    return None


def plan_of(campaign: Campaign) -> dict[str, Any]:
    """The JSON kept on the campaigns row."""
    variants = [] if campaign.test is None else [
        {"key": v.key, "template": v.template, "subject": v.subject, "sample": v.sample}
        for v in campaign.test.variants
    ]
    throttle = campaign.throttle
    return {
        "audience": rule_to_dict(campaign.audience.as_rule()),
        "template": campaign.template,
        "subject": campaign.subject,
        "sender": campaign.sender,
        "variants": variants,
        "throttle": None if throttle is None else [throttle.count, throttle.per.total_seconds()],
        "utm": dict(campaign.utm),
    }


@dataclass(frozen=True)
class SendPlan:
    key: str
    data: dict[str, Any]

    @property
    def audience(self) -> Rule:
        return rule_from_dict(self.data["audience"])

    @property
    def sender(self) -> str | None:
        sender: str | None = self.data.get("sender")
        return sender

    @property
    def throttle(self) -> tuple[int, float] | None:
        """(emails, window seconds) of the campaign's own throttle, or None."""
        raw = self.data.get("throttle")
        return None if raw is None else (int(raw[0]), float(raw[1]))

    def choice(self, contact_id: int) -> Choice:
        """The recipient's variant: a stable hash of (campaign, contact) placed on the
        variants' cumulative samples, so a rerun of a chunk picks the same one."""
        variants = self.data.get("variants") or []
        if not variants:
            return Choice(None, self.data["template"], self.data.get("subject"))
        digest = hashlib.sha256(f"{self.key}:{contact_id}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") / 2**64
        total = 0.0
        for variant in variants:
            total += variant["sample"]
            if point < total:
                break
        # Rounding can leave the top sliver past the last sum: the last variant takes it.
        return Choice(variant["key"], variant["template"],
                      variant.get("subject") or self.data.get("subject"))
