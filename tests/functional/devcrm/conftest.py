"""The HubSpot emulator on a real socket, one portal, and the real hubspot-api-client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hubspot import HubSpot

from devcrm.hubspot import HubSpotEmulator, Portal

TOKEN = "pat-na1-test-token"
OTHER_TOKEN = "pat-na1-other-token"


@pytest.fixture
def emu() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(client_id="cid", client_secret="secret", rate_limit=(1000, 10.0),
                         search_rate=1000, webhook_schedule=(0.1, 0.2, 0.3)) as emulator:
        yield emulator


@pytest.fixture
def portal(emu: HubSpotEmulator) -> Portal:
    return emu.add_portal(hub_id=12345, private_token=TOKEN)


@pytest.fixture
def client(emu: HubSpotEmulator, portal: Portal) -> HubSpot:
    return HubSpot(access_token=TOKEN, host=emu.url)


class Api:
    """requests against the emulator with a bearer token."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.session = base, requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.session.get(self.base + path, timeout=10, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> requests.Response:
        return self.session.post(self.base + path, json=json, timeout=10, **kw)

    def patch(self, path: str, json: Any = None) -> requests.Response:
        return self.session.patch(self.base + path, json=json, timeout=10)

    def delete(self, path: str) -> requests.Response:
        return self.session.delete(self.base + path, timeout=10)


@pytest.fixture
def api(emu: HubSpotEmulator, portal: Portal) -> Iterator[Api]:
    session = Api(emu.url, TOKEN)
    yield session
    session.session.close()
