"""Bearer tokens: private-app and OAuth tokens reach only their portal; missing, unknown
and expired tokens get HubSpot's 401 bodies."""

from __future__ import annotations

import requests

from devcrm.hubspot import HubSpotEmulator, Portal
from tests.functional.devcrm.conftest import OTHER_TOKEN, Api


def test_missing_and_unknown_tokens_get_invalid_authentication(emu: HubSpotEmulator,
                                                               portal: Portal) -> None:
    no_token = requests.get(emu.url + "/crm/v3/objects/contacts", timeout=5)
    unknown = Api(emu.url, "pat-na1-nope").get("/crm/v3/objects/contacts")
    for answer in (no_token, unknown):
        assert answer.status_code == 401
        body = answer.json()
        assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION"
        assert body["correlationId"] and body["message"]


def test_expired_oauth_token_gets_expired_authentication(emu: HubSpotEmulator,
                                                         portal: Portal) -> None:
    code = emu.issue_code(portal.hub_id)
    token = requests.post(emu.url + "/oauth/v1/token", data={
        "grant_type": "authorization_code", "code": code, "client_id": "cid",
        "client_secret": "secret"}, timeout=5).json()["access_token"]
    assert Api(emu.url, token).get("/crm/v3/objects/contacts").status_code == 200
    assert emu.expire_tokens(portal.hub_id) == 1
    answer = Api(emu.url, token).get("/crm/v3/objects/contacts")
    assert answer.status_code == 401
    assert answer.json()["category"] == "EXPIRED_AUTHENTICATION"


def test_a_token_never_reaches_another_portals_data(emu: HubSpotEmulator, portal: Portal) -> None:
    mine = portal.create_contact({"email": "mine@x.io"})
    other = emu.add_portal(hub_id=777, private_token=OTHER_TOKEN)
    theirs = other.create_contact({"email": "theirs@x.io"})
    api = Api(emu.url, OTHER_TOKEN)
    listed = api.get("/crm/v3/objects/contacts").json()["results"]
    assert [c["properties"]["email"] for c in listed] == ["theirs@x.io"]
    if mine != theirs:
        assert api.get(f"/crm/v3/objects/contacts/{mine}").status_code == 404
    read = api.post("/crm/v3/objects/contacts/batch/read",
                    {"inputs": [{"id": "mine@x.io"}], "idProperty": "email"})
    assert read.status_code == 207 and read.json()["results"] == []
    assert emu.requests[-1] == ("POST", "/crm/v3/objects/contacts/batch/read", 207, 777)
