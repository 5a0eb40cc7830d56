"""The /_emulator control endpoints drive the same state as the Python API, so another
process can run a scenario; `connector devcrm hubspot` serves them in the foreground."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from typing import Any

import requests

from devcrm.hubspot import HubSpotEmulator
from tests.support.receiver import Receiver


def test_a_scenario_over_http(emu: HubSpotEmulator, receiver: str) -> None:
    base = emu.url + "/_emulator"
    portal = requests.post(base + "/portals", json={"hub_id": 42}, timeout=5).json()
    token = portal["private_token"]
    subs = requests.post(base + "/subscriptions", json={"target_url": receiver, "subscriptions": [
        ["contact.creation"], ["contact.propertyChange", "lifecyclestage"]]}, timeout=5)
    assert len(subs.json()["results"]) == 2
    a = requests.post(base + "/portals/42/contacts", json={"properties": {"email": "a@x.io"}},
                      timeout=5).json()["id"]
    b = requests.post(base + "/portals/42/contacts", json={"properties": {"email": "b@x.io"}},
                      timeout=5).json()["id"]
    requests.patch(base + f"/portals/42/contacts/{a}",
                   json={"properties": {"lifecyclestage": "customer"}}, timeout=5)
    assert requests.post(base + "/portals/42/merge", json={"primary_id": a, "merged_id": b},
                         timeout=5).status_code == 200
    fault = requests.post(base + "/faults", json={"status": 429, "count": 1}, timeout=5)
    assert fault.status_code == 201
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(emu.url + "/crm/v3/objects/contacts", headers=headers,
                        timeout=5).status_code == 429
    email: dict[str, Any] = {"properties": {"hs_timestamp": "2026-01-05T09:00:00Z"},
                             "associations": [
        {"to": {"id": a}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                     "associationTypeId": 198}]}]}
    assert requests.post(emu.url + "/crm/v3/objects/emails", json=email, headers=headers,
                         timeout=5).status_code == 201
    emails = requests.get(base + "/portals/42/emails", timeout=5).json()["results"]
    assert emails[0]["contactIds"] == [a]
    timeline = requests.get(base + f"/portals/42/contacts/{b}/timeline", timeout=5).json()
    assert [item["type"] for item in timeline["results"]] == ["email"]
    log = requests.get(base + "/requests", timeout=5).json()
    assert [(r["method"], r["status"]) for r in log["results"]] == [("GET", 429), ("POST", 201)]
    code = requests.post(base + "/portals/42/code", json={}, timeout=5).json()["code"]
    tokens = requests.post(emu.url + "/oauth/v1/token", data={
        "grant_type": "authorization_code", "code": code, "client_id": "cid",
        "client_secret": "secret"}, timeout=5).json()
    assert requests.post(base + "/portals/42/revoke", timeout=5).status_code == 204
    assert requests.get(emu.url + "/crm/v3/objects/contacts", timeout=5, headers={
        "Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401
    assert requests.post(base + "/drain", json={"timeout": 5}, timeout=10).json()["drained"]
    kinds = [e["subscriptionType"] for _, raw in Receiver.received for e in json.loads(raw)]
    assert sorted(kinds) == ["contact.creation", "contact.creation", "contact.propertyChange"]
    deliveries = requests.get(base + "/webhooks", timeout=5).json()["deliveries"]
    assert all(d["outcome"] == 204 for d in deliveries)


def test_the_cli_serves_until_interrupted() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        [sys.executable, "-m", "connector", "devcrm", "hubspot", "--port", "0", "--hub-id", "99",
         "--private-token", "pat-na1-cli", "--rate-limit", "5/1s"],
        stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout is not None
        first = child.stdout.readline()
        match = re.search(r"on (http://127\.0\.0\.1:\d+) \(portal 99", first)
        assert match, first
        answer = requests.get(match.group(1) + "/crm/v3/objects/contacts", timeout=5,
                              headers={"Authorization": "Bearer pat-na1-cli"})
        assert answer.status_code == 200
        assert answer.headers["X-HubSpot-RateLimit-Max"] == "5"
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=10) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_the_cli_refuses_bad_arguments() -> None:
    done = subprocess.run([sys.executable, "-m", "connector", "devcrm", "hubspot",
                           "--rate-limit", "lots"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "--rate-limit" in done.stderr
