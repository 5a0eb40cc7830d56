"""The property definitions a fresh portal has (contacts) and the engagement properties the
emulator accepts, in HubSpot's definition shape."""

from __future__ import annotations

from typing import Any

from devcrm.hubspot.errors import property_problem
from devcrm.hubspot.records import to_ms

DAY_MS = 86_400_000

LIFECYCLE_STAGES = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
                    "opportunity", "customer", "evangelist", "other")
EMAIL_STATUSES = ("SENT", "BOUNCED", "FAILED", "SCHEDULED", "SENDING")
EMAIL_DIRECTIONS = ("EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL")

# (name, label, type, fieldType, groupName, read-only value)
_CONTACT_BUILTINS: tuple[tuple[str, str, str, str, str, bool], ...] = (
    ("email", "Email", "string", "text", "contactinformation", False),
    ("firstname", "First Name", "string", "text", "contactinformation", False),
    ("lastname", "Last Name", "string", "text", "contactinformation", False),
    ("phone", "Phone Number", "string", "phonenumber", "contactinformation", False),
    ("company", "Company Name", "string", "text", "contactinformation", False),
    ("jobtitle", "Job Title", "string", "text", "contactinformation", False),
    ("city", "City", "string", "text", "contactinformation", False),
    ("country", "Country/Region", "string", "text", "contactinformation", False),
    ("website", "Website URL", "string", "text", "contactinformation", False),
    ("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", "contactinformation", False),
    ("hubspot_owner_id", "Contact owner", "enumeration", "select", "sales_properties", False),
    ("hs_lead_status", "Lead Status", "enumeration", "radio", "sales_properties", False),
    ("hs_email_optout", "Unsubscribed from all email", "bool", "booleancheckbox",
     "emailinformation", True),
    ("createdate", "Create Date", "datetime", "date", "contactinformation", True),
    ("lastmodifieddate", "Last Modified Date", "datetime", "date", "contactinformation", True),
    ("hs_object_id", "Record ID", "number", "number", "contactinformation", True),
    ("hs_merged_object_ids", "Merged Contact IDs", "enumeration", "checkbox",
     "contactinformation", True),
)

EMAIL_PROPERTIES = frozenset({
    "hs_timestamp", "hs_email_direction", "hs_email_status", "hs_email_subject",
    "hs_email_text", "hs_email_html", "hs_email_headers", "hubspot_owner_id",
    "hs_attachment_ids", "hs_email_sender_email", "hs_email_to_email"})
NOTE_PROPERTIES = frozenset({"hs_timestamp", "hs_note_body", "hubspot_owner_id",
                             "hs_attachment_ids"})
TASK_PROPERTIES = frozenset({"hs_timestamp", "hs_task_body", "hs_task_subject",
                             "hs_task_status", "hs_task_priority", "hs_task_type",
                             "hubspot_owner_id"})
ENGAGEMENT_READ_ONLY = frozenset({"hs_createdate", "hs_lastmodifieddate", "hs_object_id"})


def definition(name: str, label: str, type_: str, field_type: str, group: str, *,
               now: str, hubspot_defined: bool, read_only: bool = False,
               options: list[dict[str, Any]] | None = None, description: str = "",
               display_order: int = -1) -> dict[str, Any]:
    """A property definition as GET /crm/v3/properties/contacts answers it."""
    return {"updatedAt": now, "createdAt": now, "name": name, "label": label, "type": type_,
            "fieldType": field_type, "description": description, "groupName": group,
            "options": options or [], "displayOrder": display_order, "calculated": False,
            "externalOptions": False, "hasUniqueValue": name == "email", "hidden": False,
            "hubspotDefined": hubspot_defined, "formField": not read_only,
            "modificationMetadata": {"archivable": not hubspot_defined,
                                     "readOnlyDefinition": hubspot_defined,
                                     "readOnlyValue": read_only},
            "archived": False}


def option(value: str, label: str, order: int) -> dict[str, Any]:
    return {"label": label, "value": value, "displayOrder": order, "hidden": False,
            "description": ""}


def contact_builtins(now: str) -> dict[str, dict[str, Any]]:
    defs: dict[str, dict[str, Any]] = {}
    for name, label, type_, field_type, group, read_only in _CONTACT_BUILTINS:
        options: list[dict[str, Any]] = []
        if name == "lifecyclestage":
            options = [option(v, v.title(), i) for i, v in enumerate(LIFECYCLE_STAGES)]
        elif type_ == "bool":
            options = [option("true", "Yes", 0), option("false", "No", 1)]
        defs[name] = definition(name, label, type_, field_type, group, now=now,
                                hubspot_defined=True, read_only=read_only, options=options)
    return defs


def builtin_groups() -> dict[str, dict[str, Any]]:
    names = (("contactinformation", "Contact information"),
             ("emailinformation", "Email information"),
             ("sales_properties", "Sales properties"))
    return {name: {"name": name, "label": label, "displayOrder": i, "archived": False}
            for i, (name, label) in enumerate(names)}


def value_problem(definition: dict[str, Any], value: str) -> dict[str, Any] | None:
    """Why HubSpot would refuse this (non-empty) value for the property, or None."""
    name, type_ = definition["name"], definition["type"]
    if type_ in ("enumeration", "bool") and definition["options"]:
        allowed = {o["value"] for o in definition["options"]}
        parts = value.split(";") if definition["fieldType"] == "checkbox" else [value]
        if not all(part in allowed for part in parts):
            return property_problem(name, "INVALID_OPTION",
                                    f"{value} was not one of the allowed options: "
                                    + ", ".join(sorted(allowed)))
    elif type_ == "number":
        try:
            float(value)
        except ValueError:
            return property_problem(name, "INVALID_DECIMAL", f"{value} is not a valid number")
    elif type_ in ("date", "datetime"):
        ms = to_ms(value)
        if ms is None:
            return property_problem(name, "INVALID_DATE" if type_ == "date" else
                                    "INVALID_DATETIME",
                                    f"{value} is not a valid {type_}: use epoch milliseconds "
                                    "or ISO 8601")
        # HubSpot's date properties hold midnight UTC only.
        if type_ == "date" and ms % DAY_MS:
            return property_problem(name, "INVALID_DATE",
                                    f"{value} is not midnight UTC; date properties hold "
                                    "dates only")
    return None
