"""The provider-neutral facts the core asks the adapters for."""

from __future__ import annotations

import pytest

from adapters.registry import opt_out_properties, validate_external_id


def test_every_crms_opt_out_property_is_named() -> None:
    assert opt_out_properties() == ("hs_email_optout", "hasoptedoutofemail")


@pytest.mark.parametrize(("provider", "value"), [
    ("hubspot", "12345"), ("salesforce", "00D5e000000AbCd"), ("salesforce", "00D5e000000AbCdEAK"),
    ("local", "anything"),
])
def test_well_formed_ids_pass(provider: str, value: str) -> None:
    assert validate_external_id(provider, value) is None


@pytest.mark.parametrize(("provider", "value", "fragment"), [
    ("hubspot", "12a45", "digits"), ("hubspot", "", "digits"),
    ("salesforce", "001000000000001", "00D"), ("salesforce", "00D123", "00D"),
    ("pipedrive", "1", "unknown provider 'pipedrive'"),
])
def test_bad_ids_are_named(provider: str, value: str, fragment: str) -> None:
    message = validate_external_id(provider, value)
    assert message is not None and fragment in message


def test_the_message_shows_the_value_given() -> None:
    assert validate_external_id("hubspot", "12a45") == (
        "a HubSpot portal id must be digits, got '12a45'")
