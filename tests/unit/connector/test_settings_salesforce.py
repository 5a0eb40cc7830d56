"""The Salesforce settings are checked at start-up, one line naming the variable: the API
share is a fraction in (0, 1], the login URL an origin tokens may be sent to."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.settings import Settings, SettingsError, load_settings


def settings(tmp_path: Path, **env: str) -> Settings:
    return load_settings(APP_ENV="test", VAR_DIR=tmp_path, SECRET_KEY="s",
                         ENCRYPTION_KEYS="x" * 43 + "=", **env)


def test_defaults_ask_for_api_and_refresh_token_and_half_the_daily_budget(
    tmp_path: Path
) -> None:
    s = settings(tmp_path)
    assert s.salesforce_api_share == 0.5
    assert s.salesforce_scopes == "api refresh_token"
    assert s.salesforce_login_url == "https://login.salesforce.com"


@pytest.mark.parametrize(("value", "share"), [("1", 1.0), ("0.25", 0.25), ("1e-3", 0.001)])
def test_an_api_share_in_zero_to_one_is_taken(tmp_path: Path, value: str, share: float) -> None:
    assert settings(tmp_path, SALESFORCE_API_SHARE=value).salesforce_api_share == share


@pytest.mark.parametrize(("value", "words"), [
    ("0", "greater than 0"),
    ("-0.1", "greater than 0"),
    ("1.01", "less than or equal to 1"),
    ("50%", "valid number"),
    ("", "valid number"),
    ("nan", "finite number"),
    ("inf", "finite number"),
])
def test_a_bad_api_share_stops_start_up_naming_the_variable(
    tmp_path: Path, value: str, words: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        settings(tmp_path, SALESFORCE_API_SHARE=value)
    assert "SALESFORCE_API_SHARE" in str(raised.value) and words in str(raised.value)


@pytest.mark.parametrize("url", ["https://test.salesforce.com",
                                 "https://acme.my.salesforce.com/",
                                 "http://127.0.0.1:8123"])
def test_a_login_url_is_an_https_origin_or_a_local_emulator(tmp_path: Path, url: str) -> None:
    assert settings(tmp_path, SALESFORCE_LOGIN_URL=url).salesforce_login_url == url.rstrip("/")


@pytest.mark.parametrize("url", ["http://login.salesforce.com", "https://login.salesforce.com/x",
                                 "login.salesforce.com"])
def test_a_login_url_tokens_must_not_go_to_stops_start_up(tmp_path: Path, url: str) -> None:
    with pytest.raises(SettingsError, match=r"SALESFORCE_LOGIN_URL: .*https origin"):
        settings(tmp_path, SALESFORCE_LOGIN_URL=url)
