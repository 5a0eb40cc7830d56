"""Communication preferences: v4 unsubscribe-all marks the contact opted out (firing its
propertyChange), statuses answer it; v3 per-subscription unsubscribes."""

from __future__ import annotations

import json

from devcrm.hubspot import HubSpotEmulator, Portal
from tests.functional.devcrm.conftest import Api
from tests.support.receiver import Receiver

V4 = "/communication-preferences/v4/statuses"


def test_unsubscribe_all_sets_the_optout(emu: HubSpotEmulator, portal: Portal, api: Api,
                                         receiver: str) -> None:
    cid = portal.create_contact({"email": "a@x.io"})
    emu.subscribe(receiver, [("contact.propertyChange", "hs_email_optout")])
    assert api.get(f"{V4}/a@x.io/unsubscribe-all", params={"channel": "EMAIL"}).json()[
        "results"] == []
    answer = api.post(f"{V4}/a@x.io/unsubscribe-all?channel=EMAIL")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "COMPLETE"
    assert {r["status"] for r in body["results"]} == {"NOT_SUBSCRIBED"}
    assert portal.contacts[cid]["properties"]["hs_email_optout"] == "true"
    assert portal.optouts[0]["email"] == "a@x.io"
    status = api.get(f"{V4}/a@x.io/unsubscribe-all", params={"channel": "EMAIL"}).json()
    assert status["results"][0]["status"] == "NOT_SUBSCRIBED"
    assert emu.drain(5)
    events = [e for _, raw in Receiver.received for e in json.loads(raw)]
    assert [(e["propertyName"], e["propertyValue"]) for e in events] == [("hs_email_optout",
                                                                          "true")]
    assert api.post(f"{V4}/a@x.io/unsubscribe-all").status_code == 400  # channel is required


def test_v3_unsubscribe_one_subscription(api: Api, portal: Portal) -> None:
    cid = portal.create_contact({"email": "b@x.io"})
    answer = api.post("/communication-preferences/v3/unsubscribe",
                      {"emailAddress": "b@x.io", "subscriptionId": "1"})
    assert answer.status_code == 200 and answer.json()["status"] == "NOT_SUBSCRIBED"
    statuses = api.get("/communication-preferences/v3/status/email/b@x.io").json()
    assert [s["status"] for s in statuses["subscriptionStatuses"]] == ["NOT_SUBSCRIBED",
                                                                       "SUBSCRIBED"]
    assert portal.contacts[cid]["properties"]["hs_email_optout"] == "false"
