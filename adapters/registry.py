"""The provider-neutral face of the adapters for the core: which contact properties mean
"do not email" in any CRM, and whether an account's external id is well formed."""

from __future__ import annotations

from collections.abc import Callable

from adapters import hubspot, salesforce

PROVIDERS = ("hubspot", "salesforce", "local")

_EXTERNAL_IDS: dict[str, tuple[Callable[[str], bool], str]] = {
    "hubspot": (hubspot.valid_portal_id, "a HubSpot portal id must be digits"),
    "salesforce": (salesforce.valid_org_id,
                   "a Salesforce org id must be a 15 or 18 character id starting with 00D"),
}


def opt_out_properties() -> tuple[str, ...]:
    """Each CRM's own opt-out property as the mirror names it (HubSpot's hs_email_optout,
    Salesforce's HasOptedOutOfEmail, lower-cased): a true value suppresses the contact."""
    return (hubspot.OPT_OUT_PROPERTY, salesforce.MIRROR_OPT_OUT_PROPERTY)


def validate_external_id(provider: str, value: str) -> str | None:
    """What is wrong with `value` as an account id of `provider`, or None if it is fine
    ("local" accounts take any id)."""
    if provider not in PROVIDERS:
        return f"unknown provider {provider!r}"
    rule = _EXTERNAL_IDS.get(provider)
    if rule is None:
        return None
    check, message = rule
    return None if check(value) else f"{message}, got {value!r}"
