"""Property groups and definitions: app-owned properties are created before use; existing
names answer 409."""

from __future__ import annotations

import pytest
from hubspot import HubSpot
from hubspot.crm.properties import (
    ApiException,
    BatchInputPropertyCreate,
    PropertyCreate,
    PropertyGroupCreate,
)

from devcrm.hubspot import Portal
from tests.functional.devcrm.conftest import Api


def _prop(name: str) -> PropertyCreate:
    return PropertyCreate(name=name, label=name.title(), type="datetime", field_type="date",
                          group_name="drip_connector")


def test_group_then_properties_then_writes(client: HubSpot, api: Api, portal: Portal) -> None:
    props = client.crm.properties
    group = props.groups_api.create("contacts", PropertyGroupCreate(name="drip_connector",
                                                                    label="Drip connector"))
    assert group.name == "drip_connector"
    with pytest.raises(ApiException) as exists:
        props.groups_api.create("contacts", PropertyGroupCreate(name="drip_connector",
                                                                label="Again"))
    assert exists.value.status == 409
    made = props.batch_api.create("contacts", BatchInputPropertyCreate(
        inputs=[_prop("drip_last_open"), _prop("drip_last_click")]))
    assert sorted(p.name for p in made.results) == ["drip_last_click", "drip_last_open"]
    with pytest.raises(ApiException) as again:
        props.core_api.create("contacts", _prop("drip_last_open"))
    assert again.value.status == 409
    one = props.core_api.get_by_name("contacts", "drip_last_open")
    assert one.type == "datetime" and one.group_name == "drip_connector"
    names = {p.name for p in props.core_api.get_all("contacts").results}
    assert {"email", "hs_email_optout", "drip_last_open"} <= names
    cid = portal.create_contact({"email": "a@x.io"})
    written = api.patch(f"/crm/v3/objects/contacts/{cid}",
                        {"properties": {"drip_last_open": "2026-01-05T09:00:00Z"}})
    assert written.status_code == 200
    assert portal.contacts[cid]["properties"]["drip_last_open"] == "2026-01-05T09:00:00Z"


def test_a_property_needs_an_existing_group(api: Api) -> None:
    answer = api.post("/crm/v3/properties/contacts", {
        "name": "x", "label": "X", "type": "string", "fieldType": "text", "groupName": "nope"})
    assert answer.status_code == 400


def test_values_are_checked_against_the_property_type(api: Api, portal: Portal) -> None:
    api.post("/crm/v3/properties/contacts/groups", {"name": "g", "label": "G"})
    for name, type_, field in (("d_when", "datetime", "date"), ("d_day", "date", "date"),
                               ("d_count", "number", "number")):
        assert api.post("/crm/v3/properties/contacts", {
            "name": name, "label": name, "type": type_, "fieldType": field,
            "groupName": "g"}).status_code == 201
    cid = portal.create_contact({"email": "a@x.io"})
    path = f"/crm/v3/objects/contacts/{cid}"
    good = {"d_when": "1767603600000", "d_day": "2026-01-05", "d_count": "3"}
    assert api.patch(path, {"properties": good}).status_code == 200
    for bad in ({"d_when": "yesterday"}, {"d_day": "1767603600000"}, {"d_count": "many"}):
        answer = api.patch(path, {"properties": bad})
        assert answer.status_code == 400, bad
        assert answer.json()["category"] == "VALIDATION_ERROR"
    assert portal.contacts[cid]["properties"]["d_count"] == "3"
