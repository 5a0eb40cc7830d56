"""What a started campaign sends, fixed when it starts (a redeploy during a send changes
nothing of it): the audience rule, the template or variants (and when and by what the
winner is picked), subject, sender, throttle, local time, whether the frequency cap
applies and UTM parameters, as JSON on the campaigns row."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Any

from connector.engine.campaigns import Campaign
from connector.engine.common import format_time, parse_time
from connector.engine.rules import Rule, rule_from_dict, rule_to_dict


@dataclass(frozen=True)
class Choice:
    """What one recipient gets: its variant (None without an A/B test), template, subject."""

    variant: str | None
    template: str
    subject: str | None


def plan_of(campaign: Campaign) -> dict[str, Any]:
    """The JSON kept on the campaigns row."""
    variants = [] if campaign.test is None else [
        {"key": v.key, "template": v.template, "subject": v.subject, "sample": v.sample}
        for v in campaign.test.variants
    ]
    throttle, test = campaign.throttle, campaign.test
    pick_after = None if test is None or test.pick_after is None else test.pick_after
    return {
        "audience": rule_to_dict(campaign.audience.as_rule()),
        "template": campaign.template,
        "subject": campaign.subject,
        "sender": campaign.sender,
        "variants": variants,
        # Only a test whose samples leave a rest has a pick.
        "pick_after": None if pick_after is None else pick_after.total_seconds(),
        "pick_by": None if test is None else test.pick_by,
        "local_time": None if campaign.local_time is None else format_time(campaign.local_time),
        "respect_frequency_cap": campaign.respect_frequency_cap,
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

    @property
    def pick_after(self) -> timedelta | None:
        """How long after the last sample email the winner is picked; None: no rest."""
        raw = self.data.get("pick_after")
        return None if raw is None else timedelta(seconds=float(raw))

    @property
    def pick_by(self) -> str:
        return str(self.data.get("pick_by") or "clicks")

    @property
    def variant_keys(self) -> list[str]:
        """The variants in the order written (the pick's tie-break)."""
        return [v["key"] for v in self.data.get("variants") or []]

    @property
    def local_time(self) -> time | None:
        raw = self.data.get("local_time")
        return None if raw is None else parse_time(raw)

    @property
    def respect_frequency_cap(self) -> bool:
        return bool(self.data.get("respect_frequency_cap", True))

    def sample_variant(self, contact_id: int) -> str | None:
        """The recipient's variant: a stable hash of (campaign, contact) placed on the
        variants' cumulative samples, so a rerun picks the same one; None for the rest
        (those past the samples when they leave one) and without an A/B test."""
        variants = self.data.get("variants") or []
        if not variants:
            return None
        digest = hashlib.sha256(f"{self.key}:{contact_id}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") / 2**64
        total = 0.0
        for variant in variants:
            total += variant["sample"]
            if point < total:
                return str(variant["key"])
        if self.pick_after is not None:
            return None
        # Rounding can leave the top sliver past the last sum: the last variant takes it.
        return str(variants[-1]["key"])

    def choice(self, variant_key: str | None) -> Choice:
        """What a recipient of `variant_key` gets (None: no test, or the rest, who get the
        winner once it is picked: pass its key)."""
        variant = next((v for v in self.data.get("variants") or []
                        if v["key"] == variant_key), None)
        if variant is None:
            return Choice(None, self.data["template"], self.data.get("subject"))
        return Choice(variant["key"], variant["template"],
                      variant.get("subject") or self.data.get("subject"))
