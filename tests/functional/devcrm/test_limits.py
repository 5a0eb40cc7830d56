"""The rolling window per portal (429 with HubSpot's body and headers) and injected
faults (429, 5xx with HTML or JSON bodies, delays), consumed one per matching request."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from devcrm.hubspot import HubSpotEmulator, Portal
from tests.functional.devcrm.conftest import OTHER_TOKEN, TOKEN, Api

CONTACTS = "/crm/v3/objects/contacts"


@pytest.fixture
def small() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(rate_limit=(5, 1.0)) as emu:
        emu.add_portal(hub_id=1, private_token=TOKEN)
        emu.add_portal(hub_id=2, private_token=OTHER_TOKEN)
        yield emu


def test_window_full_answers_429_then_reopens(small: HubSpotEmulator) -> None:
    api = Api(small.url, TOKEN)
    answers = [api.get(CONTACTS) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert [a.headers["X-HubSpot-RateLimit-Remaining"] for a in answers] == ["4", "3", "2", "1",
                                                                            "0", "0"]
    limited = answers[-1]
    assert limited.headers["X-HubSpot-RateLimit-Max"] == "5"
    assert limited.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "1000"
    assert answers[0].headers["X-HubSpot-RateLimit-Secondly"] == "5"
    assert "X-HubSpot-RateLimit-Daily" in answers[0].headers  # a private-app token
    body = limited.json()
    assert body["errorType"] == "RATE_LIMIT" and body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    # Another portal has its own window.
    assert Api(small.url, OTHER_TOKEN).get(CONTACTS).status_code == 200
    deadline = time.monotonic() + 5
    while api.get(CONTACTS).status_code == 429:
        assert time.monotonic() < deadline, "the window never reopened"
        time.sleep(0.1)
    assert small.counters["rate_limited"] >= 1
    assert small.requests[5] == ("GET", CONTACTS, 429, 1)


def test_faults_apply_in_order_to_matching_paths(emu: HubSpotEmulator, portal: Portal,
                                                 api: Api) -> None:
    emu.faults.add(status=429, count=2, path_prefix="/crm/v3/objects/emails")
    emu.faults.add(status=503, count=1)
    assert api.get(CONTACTS).status_code == 503
    email = {"properties": {"hs_timestamp": "2026-01-05T09:00:00Z"}}
    first, second, third = (api.post("/crm/v3/objects/emails", email) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (429, 429, 201)
    assert first.json()["errorType"] == "RATE_LIMIT"
    assert api.get(CONTACTS).status_code == 200
    emu.faults.add(status=500, body="json")
    broken = api.get(CONTACTS)
    assert broken.status_code == 500 and broken.json()["status"] == "error"


def test_a_503_fault_has_an_html_body(emu: HubSpotEmulator, api: Api) -> None:
    emu.faults.add(status=503)
    answer = api.get(CONTACTS)
    assert answer.status_code == 503 and answer.headers["Content-Type"].startswith("text/html")


def test_delay_fault_hangs_then_answers(emu: HubSpotEmulator, api: Api) -> None:
    emu.faults.add(delay=0.5, count=1)
    started = time.monotonic()
    assert api.get(CONTACTS).status_code == 200
    assert time.monotonic() - started >= 0.5
