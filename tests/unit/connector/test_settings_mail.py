"""MAIL_URL and MAIL_FROM are checked at start-up, one line naming the variable, without
opening any connection."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from connector.settings import SettingsError, load_settings


def settings(tmp_path: Path, **env: str):  # type: ignore[no-untyped-def]
    return load_settings(APP_ENV="test", VAR_DIR=tmp_path, SECRET_KEY="s",
                         ENCRYPTION_KEYS="x" * 43 + "=", **env)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://x", "unknown mail transport scheme 'ftp'"),
        ("x", "unknown mail transport scheme ''"),
        ("smtp://", "needs a host"),
        ("smtp://mail.example.com:99999", "Port out of range"),
        ("smtp://mail.example.com:abc", "Port could not be cast"),
        ("smtp://mail.example.com?timeout=soon", "timeout must be a number"),
        ("smtp://mail.example.com?timeout=-1", "timeout must be a number"),
        ("smtp://mail.example.com?retries=1.5", "retries must be a whole number"),
        ("smtp://mail.example.com?backoff=nan", "backoff must be a number"),
        ("smtp://mail.example.com?helo=a%0D%0AMAIL", "helo must be a host name"),
        ("smtp://mail.example.com?tls=maybe", "tls must be"),
        ("smtp://mail.example.com?tsl=starttls", "unknown smtp URL option"),
        ("outbox://", "needs a directory"),
    ],
)
def test_a_bad_mail_url_stops_start_up_naming_mail_url(
    tmp_path: Path, url: str, words: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("checking MAIL_URL opened a connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(SettingsError) as caught:
        settings(tmp_path, MAIL_URL=url)
    message = str(caught.value)
    assert "MAIL_URL" in message and words in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "url",
    ["smtp://user:p%40ss@mail.example.com:587?tls=starttls&timeout=5&retries=0",
     "smtps://mail.example.com", "smtp://[::1]:2525?tls=none&helo=drip.example",
     "outbox://var/outbox"],
)
def test_good_mail_urls_pass(tmp_path: Path, url: str) -> None:
    assert settings(tmp_path, MAIL_URL=url).mail == url


@pytest.mark.parametrize("sender", ["nobody", "Acme <hello@acme.example>\nBcc: x@evil.example"])
def test_a_bad_mail_from_stops_start_up_naming_it(tmp_path: Path, sender: str) -> None:
    with pytest.raises(SettingsError, match="MAIL_FROM"):
        settings(tmp_path, MAIL_FROM=sender)
