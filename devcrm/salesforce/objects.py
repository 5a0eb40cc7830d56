"""The sObject types the emulator knows (Contact, Lead, Task, and the org's own
Organization, read only), their fields, and the checks Salesforce makes on a create or
update body."""

from __future__ import annotations

from typing import Any

from devcrm.salesforce.errors import SfError, invalid_field

_PERSON = ("Id", "IsDeleted", "Email", "FirstName", "LastName", "Name",
           "HasOptedOutOfEmail", "LeadSource", "IsEmailBounced", "EmailBouncedDate",
           "OwnerId", "CreatedDate", "LastModifiedDate", "SystemModstamp")
FIELDS: dict[str, tuple[str, ...]] = {
    "Contact": _PERSON,
    "Lead": (*_PERSON, "Company", "Status", "IsConverted", "ConvertedContactId", "ConvertedDate"),
    "Task": ("Id", "IsDeleted", "Subject", "Status", "TaskSubtype", "ActivityDate", "WhoId",
             "WhatId", "Description", "OwnerId", "Priority", "CreatedDate",
             "LastModifiedDate", "SystemModstamp"),
    # The org itself: one row, queried (SELECT TimeZoneSidKey FROM Organization), never
    # written through the API.
    "Organization": ("Id", "Name", "TimeZoneSidKey"),
}
READ_ONLY = frozenset({"Id", "IsDeleted", "Name", "CreatedDate", "LastModifiedDate",
                       "SystemModstamp", "IsConverted", "ConvertedContactId", "ConvertedDate"})
BOOLEANS = frozenset({"IsDeleted", "HasOptedOutOfEmail", "IsEmailBounced", "IsConverted"})
REQUIRED = {"Contact": ("LastName",), "Lead": ("LastName",), "Task": ()}
DEFAULTS: dict[str, dict[str, Any]] = {
    "Contact": {"HasOptedOutOfEmail": False, "IsEmailBounced": False},
    "Lead": {"HasOptedOutOfEmail": False, "IsEmailBounced": False, "Status": "Open - Not Contacted",
             "IsConverted": False},
    "Task": {"Status": "Not Started", "Priority": "Normal", "TaskSubtype": "Task"},
}
CREATE_ONLY = frozenset({("Task", "TaskSubtype")})


def check_type(sobject: str) -> None:
    if sobject not in FIELDS:
        raise SfError(404, "NOT_FOUND", "The requested resource does not exist")


def field_name(sobject: str, name: str) -> str:
    """The canonical spelling of a field (Salesforce is case-insensitive), or INVALID_FIELD."""
    for known in FIELDS[sobject]:
        if known.lower() == name.lower():
            return known
    raise invalid_field(name, sobject)


def clean(sobject: str, values: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The body's fields canonicalised and checked the way the REST API checks them."""
    if sobject == "Organization":
        verb = "inserted" if creating else "updated"
        raise SfError(400, "INVALID_TYPE_FOR_OPERATION",
                      f"entity type cannot be {verb}: Organization")
    out: dict[str, Any] = {}
    for raw, value in values.items():
        if raw == "attributes":
            continue
        name = field_name(sobject, raw)
        if name in READ_ONLY or (not creating and (sobject, name) in CREATE_ONLY):
            raise SfError(400, "INVALID_FIELD_FOR_INSERT_UPDATE",
                          f"Unable to create/update fields: {name}. Please check the security "
                          "settings of this field and verify that it is read/write for your "
                          "profile or permission set.", [name])
        if name in BOOLEANS and not isinstance(value, bool):
            raise SfError(400, "JSON_PARSER_ERROR",
                          f"Cannot deserialize instance of boolean from VALUE_STRING value "
                          f"{value} or request may be missing a required field")
        out[name] = value
    if creating:
        missing = [f for f in REQUIRED[sobject] if not out.get(f)]
        if missing:
            raise SfError(400, "REQUIRED_FIELD_MISSING",
                          f"Required fields are missing: [{', '.join(missing)}]", missing)
    elif any(f in out and not out[f] for f in REQUIRED[sobject]):
        missing = [f for f in REQUIRED[sobject] if f in out and not out[f]]
        raise SfError(400, "REQUIRED_FIELD_MISSING",
                      f"Required fields are missing: [{', '.join(missing)}]", missing)
    return out
