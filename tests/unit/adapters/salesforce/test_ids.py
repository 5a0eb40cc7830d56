from __future__ import annotations

import pytest

from adapters.salesforce.ids import both_forms, checksum, is_id, same_id, to_15, to_18


@pytest.mark.parametrize(("id15", "id18"), [
    ("0015000000Gv7qJ", "0015000000Gv7qJAAR"),  # the example of Salesforce's docs
    ("00D5g000004ABCD", "00D5g000004ABCDEA4"),
    ("aaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaAAA"),
    ("ZZZZZZZZZZZZZZZ", "ZZZZZZZZZZZZZZZ555"),
])
def test_the_18_character_form_appends_the_case_checksum(id15: str, id18: str) -> None:
    assert to_18(id15) == id18 == to_18(id18)
    assert to_15(id18) == id15
    assert both_forms(id15) == both_forms(id18) == {id15, id18}


def test_ids_that_differ_only_in_case_have_different_checksums() -> None:
    assert checksum("0015000000Gv7qJ") != checksum("0015000000gv7qj")


@pytest.mark.parametrize("value", ["0015000000Gv7qJ", "0015000000Gv7qJAAR", "0015000000Gv7qJaar"])
def test_valid_ids(value: str) -> None:
    assert is_id(value)


@pytest.mark.parametrize("value", [
    "", "0015000000Gv7q", "0015000000Gv7qJAAB", "0015000000Gv7qJA", "0015000000Gv7q!",
    "0015000000Gv7qJAARX", None, 15,
])
def test_invalid_ids(value: object) -> None:
    assert not is_id(value)


def test_same_id_compares_the_15_character_prefix() -> None:
    assert same_id("0015000000Gv7qJ", "0015000000Gv7qJAAR")
    assert not same_id("0015000000Gv7qJ", "0015000000Gv7qj")
    with pytest.raises(ValueError):
        checksum("short")
