"""Webhooks as HubSpot sends them: events per subscription, batched per portal, signed
(v3 and v1), retried with attemptNumber incremented after a failed answer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
from typing import Any

import requests

from devcrm.hubspot import HubSpotEmulator, Portal
from tests.support.receiver import Receiver

ALL = [("contact.creation", None), ("contact.deletion", None), ("contact.privacyDeletion", None),
       ("contact.merge", None), ("contact.restore", None),
       ("contact.propertyChange", "lifecyclestage")]


def _events() -> list[dict[str, Any]]:
    return [event for _, body in Receiver.received for event in json.loads(body)]


def _expected_v3(secret: str, url: str, body: bytes, timestamp: str) -> str:
    signed = b"POST" + url.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()


def test_creation_and_property_change_arrive_signed(emu: HubSpotEmulator, portal: Portal,
                                                    receiver: str) -> None:
    emu.subscribe(receiver, ALL)
    cid = portal.create_contact({"email": "a@x.io", "lifecyclestage": "lead"})
    portal.update_contact(cid, {"lifecyclestage": "customer", "firstname": "Ann"})
    assert emu.drain(5)
    events = _events()
    assert [(e["subscriptionType"], e.get("propertyValue")) for e in events] == [
        ("contact.creation", None), ("contact.propertyChange", "lead"),
        ("contact.propertyChange", "customer")]
    creation = events[0]
    assert creation["objectId"] == int(cid) and creation["portalId"] == portal.hub_id
    assert creation["appId"] == emu.app_id and creation["attemptNumber"] == 0
    assert creation["changeFlag"] == "NEW" and creation["changeSource"] == "CRM_UI"
    assert isinstance(creation["occurredAt"], int) and creation["eventId"] and creation["sourceId"]
    assert events[2]["propertyName"] == "lifecyclestage"
    for headers, body in Receiver.received:
        timestamp = headers["X-HubSpot-Request-Timestamp"]
        assert abs(int(timestamp) - time.time() * 1000) < 60_000
        assert headers["X-HubSpot-Signature-v3"] == _expected_v3("secret", receiver, body,
                                                                  timestamp)
        assert headers["X-HubSpot-Signature"] == hashlib.sha256(b"secret" + body).hexdigest()
        assert headers["X-HubSpot-Signature-Version"] == "v1"
        assert headers["Content-Type"] == "application/json"


def test_events_are_batched_at_most_100_per_post(emu: HubSpotEmulator, portal: Portal,
                                                 receiver: str) -> None:
    emu.subscribe(receiver, [("contact.creation", None)])
    for i in range(150):
        portal.create_contact({"email": f"c{i}@x.io"})
    assert emu.drain(5)
    sizes = sorted(len(json.loads(body)) for _, body in Receiver.received)
    assert sum(sizes) == 150 and max(sizes) <= 100 and len(sizes) < 150


def test_a_failed_answer_is_retried_with_attempt_number_1(emu: HubSpotEmulator, portal: Portal,
                                                          receiver: str) -> None:
    emu.subscribe(receiver, [("contact.creation", None)])
    Receiver.status = 500
    portal.create_contact({"email": "a@x.io"})
    deadline = time.monotonic() + 5
    while not Receiver.received:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    Receiver.status = 204
    assert emu.drain(5)
    attempts = [e["attemptNumber"] for e in _events()]
    assert attempts[:2] == [0, 1] and attempts[-1] >= 1
    assert emu.webhook_deliveries[0] == (0, 500, 1)
    assert emu.webhook_deliveries[-1][1] == 204
    ids = {e["eventId"] for e in _events()}
    assert len(ids) == 1  # the same event, retried


def test_merge_gdpr_delete_and_restore_events(emu: HubSpotEmulator, portal: Portal,
                                              receiver: str) -> None:
    a = portal.create_contact({"email": "a@x.io"})
    b = portal.create_contact({"email": "b@x.io", "firstname": "Bo"})
    emu.subscribe(receiver, ALL)
    portal.merge(a, b)
    portal.delete_contact(a)
    portal.restore_contact(a)
    portal.gdpr_delete(a)
    assert emu.drain(5)
    events = _events()
    assert [e["subscriptionType"] for e in events] == [
        "contact.merge", "contact.deletion", "contact.restore", "contact.privacyDeletion",
        "contact.deletion"]
    merge = events[0]
    assert merge["primaryObjectId"] == int(a) and merge["mergedObjectIds"] == [int(b)]
    assert merge["newObjectId"] == int(a) and merge["numberOfPropertiesMoved"] == 1


def test_api_writes_fire_webhooks_and_duplicates_on_request(receiver: str) -> None:
    with HubSpotEmulator(client_secret="secret", webhook_duplicates=True) as emu:
        portal = emu.add_portal(hub_id=5, private_token="pat-na1-dup")
        emu.subscribe(receiver, [("contact.creation", None)])
        requests.post(emu.url + "/crm/v3/objects/contacts",
                      json={"properties": {"email": "a@x.io"}},
                      headers={"Authorization": "Bearer pat-na1-dup"}, timeout=5)
        assert emu.drain(5)
        events = _events()
        assert len(events) == 2 and events[0]["eventId"] == events[1]["eventId"]
        assert events[0]["changeSource"] == "INTEGRATION" and events[0]["portalId"] == 5
        assert len(portal.contacts) == 1


def test_connection_errors_are_retried_until_the_schedule_ends(emu: HubSpotEmulator,
                                                               portal: Portal) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    emu.subscribe(f"http://127.0.0.1:{closed_port}/hook", [("contact.creation", None)])
    portal.create_contact({"email": "a@x.io"})
    assert emu.drain(10)
    assert [(attempt, n) for attempt, _, n in emu.webhook_deliveries] == [(0, 1), (1, 1), (2, 1),
                                                                          (3, 1)]
    assert all(outcome == "ConnectionError" for _, outcome, _ in emu.webhook_deliveries)


def test_a_slow_receiver_times_out_and_gets_the_batch_again(receiver: str) -> None:
    with HubSpotEmulator(client_secret="secret", webhook_timeout=0.3,
                         webhook_schedule=(0.1,)) as emu:
        portal = emu.add_portal(hub_id=5)
        emu.subscribe(receiver, [("contact.creation", None)])
        Receiver.hold = 1.0
        portal.create_contact({"email": "a@x.io"})
        deadline = time.monotonic() + 5
        while not Receiver.received:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        Receiver.hold = 0.0
        assert emu.drain(5)
        assert [(a, o) for a, o, _ in emu.webhook_deliveries] == [(0, "ReadTimeout"), (1, 204)]
