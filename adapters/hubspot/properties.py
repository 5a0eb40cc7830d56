"""The app's own contact properties (how a contact engages with our emails), in one
property group, and `prepare`, which creates them: HubSpot refuses writes to a property
that does not exist."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters.hubspot.client import HubSpotClient, HubSpotRequestError, SdkApis, SdkCall

GROUP = "drip_connector"
GROUP_LABEL = "Drip Connector"
OBJECT_TYPE = "contacts"


@dataclass(frozen=True)
class AppProperty:
    name: str
    label: str
    type: str  # HubSpot's type / fieldType pairs: number/number, datetime/date, string/text
    field_type: str
    description: str

    def definition(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "type": self.type,
                "fieldType": self.field_type, "groupName": GROUP,
                "description": self.description}


OPENS = AppProperty("drip_opens", "Drip: email opens", "number", "number",
                    "Opens of the connector's emails by this contact.")
CLICKS = AppProperty("drip_clicks", "Drip: email clicks", "number", "number",
                     "Clicks in the connector's emails by this contact.")
LAST_OPEN_AT = AppProperty("drip_last_open_at", "Drip: last open", "datetime", "date",
                           "When the contact last opened one of the connector's emails.")
LAST_CLICK_AT = AppProperty("drip_last_click_at", "Drip: last click", "datetime", "date",
                            "When the contact last clicked in one of the connector's emails.")
LAST_CLICKED_LINK = AppProperty("drip_last_clicked_link", "Drip: last clicked link", "string",
                                "text", "The link the contact last clicked.")
LAST_EMAIL_SUBJECT = AppProperty("drip_last_email_subject", "Drip: last email subject",
                                 "string", "text", "The subject of the last email sent.")
ACTIVE_FLOWS = AppProperty("drip_active_flows", "Drip: active flows", "string", "textarea",
                           "The flows the contact is in now, separated by semicolons.")

APP_PROPERTIES = (OPENS, CLICKS, LAST_OPEN_AT, LAST_CLICK_AT, LAST_CLICKED_LINK,
                  LAST_EMAIL_SUBJECT, ACTIVE_FLOWS)


def prepare(client: HubSpotClient) -> None:
    """Create the group and the properties; what already exists is left as it is."""
    group = {"name": GROUP, "label": GROUP_LABEL, "displayOrder": -1}
    _create(client, "create the property group", _create_group(group))
    everything = [p.definition() for p in APP_PROPERTIES]
    if not _create(client, "create the app's properties", _create_properties(everything)):
        # One existing name fails the whole batch: create only the missing ones.
        reply = client.sdk("list contact properties", _list_properties)
        data = reply.data if isinstance(reply.data, dict) else {}
        existing = {str(p.get("name")) for p in data.get("results") or []}
        missing = [d for d in everything if d["name"] not in existing]
        if missing:
            _create(client, "create the app's missing properties", _create_properties(missing))


def _create(client: HubSpotClient, what: str, call: SdkCall) -> bool:
    """True if created, False if it already existed."""
    try:
        client.sdk(what, call)
    except HubSpotRequestError as exc:
        if exc.status == 409 or exc.category == "OBJECT_ALREADY_EXISTS" or (
                "already exists" in str(exc).lower()):
            return False
        raise
    return True


def _create_group(group: dict[str, Any]) -> SdkCall:
    def call(apis: SdkApis, options: dict[str, Any]) -> Any:
        return apis.property_groups.create(object_type=OBJECT_TYPE, property_group_create=group,
                                           **options)
    return call


def _list_properties(apis: SdkApis, options: dict[str, Any]) -> Any:
    return apis.properties_core.get_all(object_type=OBJECT_TYPE, archived=False, **options)


def _create_properties(definitions: list[dict[str, Any]]) -> SdkCall:
    def call(apis: SdkApis, options: dict[str, Any]) -> Any:
        return apis.properties_batch.create(
            object_type=OBJECT_TYPE, batch_input_property_create={"inputs": definitions},
            **options)
    return call
