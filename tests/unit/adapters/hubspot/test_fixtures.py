"""Every type the normalizer handles or ignores has a fixture in HubSpot's format, and
every fixture is of a type the normalizer knows (zulip's fixture meta-test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.hubspot.events import IGNORED, SUPPORTED
from tests.unit.adapters.hubspot.fixtures import fixture_paths, type_named_by


def test_every_supported_and_ignored_type_has_a_fixture() -> None:
    named = {type_named_by(path) for path in fixture_paths()}
    assert sorted((SUPPORTED | IGNORED) - named) == []


@pytest.mark.parametrize("path", fixture_paths(), ids=lambda p: p.stem)
def test_each_fixture_is_a_batch_of_the_type_its_name_says(path: Path) -> None:
    events = json.loads(path.read_text())
    assert isinstance(events, list) and events, "HubSpot posts a non-empty JSON array"
    for event in events:
        assert event["subscriptionType"] == type_named_by(path)
        assert event["subscriptionType"] in SUPPORTED | IGNORED


def test_supported_and_ignored_do_not_overlap() -> None:
    assert not SUPPORTED & IGNORED
