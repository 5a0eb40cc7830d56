"""The OAuth scopes the HubSpot app asks for, each with why: the one list the app project
generator writes into `app-hsmeta.json` and the README explains.

The install reads the same scopes from the settings `HUBSPOT_SCOPES` and
`HUBSPOT_OPTIONAL_SCOPES` (space-separated), whose defaults are these lists: change both
together, or the consent screen HubSpot shows will not match the app's configuration and
HubSpot refuses the install.
"""

from __future__ import annotations

from collections.abc import Mapping

REQUIRED_SCOPES: Mapping[str, str] = {
    "oauth": "the OAuth install itself (tokens, refresh, which portal a token belongs to)",
    "crm.objects.contacts.read": (
        "read contacts for segments, triggers and merge tags, and receive contact webhooks"
    ),
    "crm.objects.contacts.write": (
        "write flow steps' property updates and log each email as an email engagement on "
        "the contact (HubSpot's emails API accepts the contacts scopes)"
    ),
    "crm.schemas.contacts.write": (
        "create the app's own contact properties (opens, clicks, last email) at install"
    ),
    "communication_preferences.read_write": (
        "record an unsubscribe as an email opt-out in HubSpot's subscription preferences"
    ),
}

# `sales-email-read` is not asked for: it only unredacts the content of email engagements
# when reading them, and the connector writes engagements without reading them back.
OPTIONAL_SCOPES: Mapping[str, str] = {}


def required_scopes() -> list[str]:
    return list(REQUIRED_SCOPES)


def optional_scopes() -> list[str]:
    return list(OPTIONAL_SCOPES)
