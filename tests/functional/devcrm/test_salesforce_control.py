"""The Salesforce emulator's /_emulator control endpoints drive the same org as the Python
API, over a real socket, so another process can run a scenario: records made as a user
would (Outbound Messages fire), conversions, what a rep sees, tokens, faults, the log;
`connector devcrm salesforce` prints where they are."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce

from devcrm.salesforce import SalesforceEmulator, plain_http_session
from devcrm.salesforce.ids import to18
from tests.functional.devcrm.test_salesforce_outbound import ACK
from tests.support.receiver import Receiver


class Control:
    """JSON requests to /_emulator."""

    def __init__(self, emu: SalesforceEmulator) -> None:
        self.base = emu.url + "/_emulator"

    def call(self, method: str, path: str, json: Any = None,
             status: int = 200) -> Any:
        answer = requests.request(method, self.base + path, json=json, timeout=10)
        assert answer.status_code == status, answer.text
        return answer.json() if answer.content else None

    def error(self, method: str, path: str, json: Any = None, *, status: int,
              data: bytes | None = None) -> dict[str, Any]:
        answer = requests.request(method, self.base + path, json=json, data=data, timeout=10)
        assert answer.status_code == status, answer.text
        [error] = answer.json()
        return dict(error)


@pytest.fixture
def sf_emu() -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator(outbound_schedule=(0.05, 0.1, 0.1)) as emulator:
        yield emulator


@pytest.fixture
def control(sf_emu: SalesforceEmulator) -> Control:
    return Control(sf_emu)


def _client(org: dict[str, Any]) -> Salesforce:
    return Salesforce(instance_url=org["instance_url"], session_id=org["access_token"],
                      session=plain_http_session())


def _sent_ids(bodies: list[bytes]) -> list[str]:
    return [m for body in bodies for m in re.findall(r"<sf:Id>(\w+)</sf:Id>", body.decode())]


def test_a_scenario_over_http(sf_emu: SalesforceEmulator, control: Control,
                              receiver: str) -> None:
    Receiver.status, Receiver.reply = 200, ACK
    org = control.call("POST", "/orgs", {"org_id": "00D5g000004ABCD"}, status=201)
    assert org["org_id"] == to18("00D5g000004ABCD") and org["instance_url"] == sf_emu.url
    assert control.call("GET", "/orgs")["results"] == [org]
    base = f"/orgs/{org['org_id']}"
    action = control.call("POST", base + "/outbound", {
        "target_url": receiver, "object": "Lead", "fields": ["email", "IsConverted"]},
        status=201)
    assert (action["object"], action["fields"]) == ("Lead", ["Email", "IsConverted"])
    control.call("POST", base + "/outbound", {"target_url": receiver, "object": "Contact"},
                 status=201)

    contact = control.call("POST", base + "/sobjects/Contact",
                           {"LastName": "Hopper", "Email": "grace@x.io"}, status=201)
    assert contact["HasOptedOutOfEmail"] is False and contact["Name"] == "Hopper"
    leads = control.call("POST", base + "/sobjects/Lead", {"records": [
        {"LastName": "Lovelace", "Email": "ada@x.io", "Company": "Engines"},
        {"LastName": "Liskov", "Email": "barbara@x.io"}]}, status=201)["ids"]
    changed = control.call("PATCH", f"{base}/sobjects/Contact/{contact['Id']}",
                           {"HasOptedOutOfEmail": True})
    assert changed["HasOptedOutOfEmail"] is True

    # The connector writes a Task against the Lead through the REST API ...
    sf = _client(org)
    created = sf.restful("sobjects/Task/", method="POST", json={
        "Subject": "Email: Welcome", "Status": "Completed", "TaskSubtype": "Email",
        "WhoId": leads[0]})
    assert created is not None
    task = created["id"]
    seen = control.call("GET", f"{base}/timeline/{leads[0][:15]}")
    assert seen["record"]["Email"] == "ada@x.io"
    assert [(t["Id"], t["Subject"], t["TaskSubtype"]) for t in seen["tasks"]] == [
        (task, "Email: Welcome", "Email")]

    # ... and it follows her to the Contact she becomes, as Salesforce moves activities.
    converted = control.call("POST", f"{base}/sobjects/Lead/{leads[0]}/convert")
    new_contact = converted["contact_id"]
    assert converted["lead"]["IsConverted"] is True
    assert converted["lead"]["ConvertedContactId"] == new_contact
    assert converted["contact"]["Email"] == "ada@x.io"
    assert [t["Id"] for t in control.call("GET", f"{base}/timeline/{new_contact}")["tasks"]] \
        == [task]
    assert control.call("GET", f"{base}/timeline/{leads[0]}")["tasks"] == []
    again = control.error("POST", f"{base}/sobjects/Lead/{leads[0]}/convert", status=400)
    assert again["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    assert [r["Id"] for r in control.call("GET", base + "/sobjects/Contact")["results"]] == [
        contact["Id"], new_contact]

    assert control.call("POST", "/drain", {"timeout": 5})["drained"] is True
    sent = _sent_ids([body for _, body in Receiver.received])
    # Lead: two creates, the conversion; Contact: the create, the opt-out, the new Contact.
    assert sorted(sent) == sorted([*leads, leads[0], contact["Id"], contact["Id"],
                                   new_contact])
    log = control.call("GET", "/outbound")
    assert log["configs"][0]["action_id"] == action["action_id"]
    assert log["deliveries"] and all(d["outcome"] == 200 for d in log["deliveries"])


def test_faults_tokens_and_the_request_log(control: Control) -> None:
    org = control.call("POST", "/orgs", status=201)
    base = f"/orgs/{org['org_id']}"
    sf = _client(org)
    fault = control.call("POST", "/faults", {"status": 503, "path_prefix": "/services/data",
                                             "method": "get", "count": 1}, status=201)
    assert (fault["status"], fault["method"], fault["count"]) == (503, "GET", 1)
    assert control.call("GET", "/faults")["results"] == [fault]
    # The control endpoints are never faulted: the pending fault waits for the API.
    control.call("POST", base + "/sobjects/Contact", {"LastName": "A"}, status=201)
    answer = requests.get(f"{org['instance_url']}/services/data/v59.0/query",
                          params={"q": "SELECT Id FROM Contact"}, timeout=5,
                          headers={"Authorization": f"Bearer {org['access_token']}"})
    assert answer.status_code == 503 and answer.json()[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    assert sf.query("SELECT Id FROM Contact")["totalSize"] == 1
    control.call("POST", "/faults", {"status": 500}, status=201)
    assert control.call("DELETE", "/faults", status=204) is None
    assert control.call("GET", "/faults")["results"] == []

    log = control.call("GET", "/requests")
    assert [(r["method"], r["status"], r["org_id"]) for r in log["results"]] == [
        ("GET", 503, None), ("GET", 200, org["org_id"])]
    assert log["api_usage"] == {org["org_id"]: 1} and log["api_limit"] == 15_000
    assert control.call("GET", f"/requests?since={log['next']}")["results"] == []

    assert control.call("POST", base + "/expire-tokens") == {"expired": 1}
    expired = requests.get(f"{org['instance_url']}/services/data/v59.0/limits", timeout=5,
                           headers={"Authorization": f"Bearer {org['access_token']}"})
    assert expired.status_code == 401 and expired.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    assert control.call("POST", base + "/revoke", status=204) is None


@pytest.mark.parametrize(("method", "path", "body", "status", "code", "message"), [
    ("POST", "/orgs", {"org_id": "001abc"}, 400, "INVALID_INPUT", "org_id must be a 15 or 18"),
    ("GET", "/orgs/00D000000000000/sobjects/Contact", None, 404, "NOT_FOUND",
     "no org 00D000000000000"),
    ("POST", "{org}/sobjects/Contact", ["LastName"], 400, "INVALID_INPUT",
     "the body must be a JSON object"),
    ("POST", "{org}/sobjects/Contact", {"Nope": 1}, 400, "INVALID_FIELD",
     "No such column 'Nope' on sobject of type Contact"),
    ("POST", "{org}/sobjects/Contact", {"Email": "a@x.io"}, 400, "REQUIRED_FIELD_MISSING",
     "[LastName]"),
    ("POST", "{org}/sobjects/Lead", {"records": [{"LastName": "A"}, {}]}, 400,
     "REQUIRED_FIELD_MISSING", "[LastName]"),
    ("POST", "{org}/sobjects/Task", {"Subject": "x"}, 400, "INVALID_INPUT",
     "Contacts or Leads, not 'Task'"),
    ("GET", "{org}/sobjects/Account/001000000000000", None, 400, "INVALID_INPUT",
     "unknown sObject type 'Account'"),
    ("GET", "{org}/sobjects/Contact/003000000000000", None, 404, "NOT_FOUND",
     "no Contact 003000000000000 in org"),
    ("PATCH", "{org}/sobjects/Lead/00Q000000000000", {"FirstName": "A"}, 404, "NOT_FOUND",
     "no Lead 00Q000000000000"),
    ("POST", "{org}/sobjects/Lead/00Q000000000000/convert", None, 404, "NOT_FOUND",
     "no Lead 00Q000000000000"),
    ("GET", "{org}/timeline/003000000000000", None, 404, "NOT_FOUND",
     "no Contact or Lead 003000000000000 in org"),
    ("POST", "{org}/outbound", {"target_url": "ftp://x"}, 400, "INVALID_INPUT",
     "target_url must be an http(s) URL, got 'ftp://x'"),
    ("POST", "{org}/outbound", {"target_url": "http://x", "object": "Task"}, 400,
     "INVALID_INPUT", "not 'Task'"),
    ("POST", "{org}/outbound", {"target_url": "http://x", "fields": ["Company"],
                                "object": "Contact"}, 400, "INVALID_FIELD", "'Company'"),
    ("POST", "/faults", {"status": "503"}, 400, "INVALID_INPUT", "status must be an HTTP"),
    ("POST", "/faults", {}, 400, "INVALID_INPUT", "a fault needs a status or a delay"),
    ("POST", "/faults", {"status": 500, "count": 0}, 400, "INVALID_INPUT",
     "count must be at least 1"),
    ("POST", "/drain", {"timeout": -1}, 400, "INVALID_INPUT", "timeout must be a positive"),
    ("GET", "/requests?since=x", None, 400, "INVALID_INPUT", "since must be a non-negative"),
])
def test_bad_input_is_refused_with_a_precise_message(
    control: Control, method: str, path: str, body: Any, status: int, code: str, message: str
) -> None:
    org = control.call("POST", "/orgs", status=201)
    error = control.error(method, path.replace("{org}", f"/orgs/{org['org_id']}"), body,
                          status=status)
    assert error["errorCode"] == code and message in error["message"], error
    assert control.call("GET", f"/orgs/{org['org_id']}/sobjects/Lead")["results"] == []


def test_a_second_org_with_the_same_id_conflicts(control: Control) -> None:
    control.call("POST", "/orgs", {"org_id": "00D5g000004ABCD"}, status=201)
    org_id = to18("00D5g000004ABCD")
    error = control.error("POST", "/orgs", {"org_id": org_id}, status=409)
    assert error["errorCode"] == "DUPLICATE_VALUE" and f"{org_id} exists" in error["message"]
    assert control.error("POST", "/orgs", data=b"{", status=400)["message"] == \
        "the body must be a JSON object"


def test_the_cli_says_where_its_control_endpoints_are() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        [sys.executable, "-m", "connector", "devcrm", "salesforce", "--port", "0"],
        stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout is not None
        line = ""
        while "control endpoints" not in line:
            line = child.stdout.readline()
            assert line, "the CLI ended without naming its control endpoints"
        match = re.search(r"control endpoints: (http://127\.0\.0\.1:\d+/_emulator)/", line)
        assert match, line
        [org] = requests.get(match.group(1) + "/orgs", timeout=5).json()["results"]
        made = requests.post(f"{match.group(1)}/orgs/{org['org_id']}/sobjects/Lead",
                             json={"LastName": "Lee"}, timeout=5)
        assert made.status_code == 201
        assert _client(org).query("SELECT LastName FROM Lead")["records"][0]["LastName"] == \
            "Lee"
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=10) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
