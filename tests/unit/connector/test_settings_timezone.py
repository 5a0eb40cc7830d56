"""TIMEZONE: the accounts' default timezone, an IANA name checked at start-up."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connector.settings import SettingsError, load_settings, parse_timezone


def test_the_default_is_utc_and_a_name_is_kept(tmp_path: Path) -> None:
    assert load_settings(VAR_DIR=tmp_path).default_timezone == ZoneInfo("UTC")
    settings = load_settings(VAR_DIR=tmp_path, TIMEZONE="Europe/Berlin")
    assert (settings.timezone, settings.default_timezone) == ("Europe/Berlin",
                                                              ZoneInfo("Europe/Berlin"))


@pytest.mark.parametrize(("value", "hint"), [
    ("Europe/Brlin", " (did you mean Europe/Berlin, Europe/Dublin?)"),
    ("new york", " (did you mean America/New_York?)"),
    ("Nowhere", ""),
    ("localtime", ""),  # the machine's own zone: workers on two machines would differ
    ("", ""),
])
def test_a_bad_timezone_stops_start_up_naming_the_variable(tmp_path: Path, value: str,
                                                           hint: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(VAR_DIR=tmp_path, TIMEZONE=value)
    assert (f"TIMEZONE: Value error, expected an IANA timezone such as Europe/Berlin, got "
            f"{value!r}{hint}") in str(raised.value)


def test_close_names_are_offered_in_another_case_or_by_city() -> None:
    for given, close in (("asia/tokyo", "Asia/Tokyo"), ("Sao_Paulo", "America/Sao_Paulo")):
        with pytest.raises(ValueError, match=f"did you mean {close}"):
            parse_timezone(given)
