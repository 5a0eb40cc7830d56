"""transport_from_url: URL parsing and defaults (the wire behaviour is integration-tested)."""

from __future__ import annotations

import pickle
import ssl
from pathlib import Path

import pytest

from connector.email.errors import PermanentTransportError, RetryableTransportError
from connector.email.transports import OutboxTransport, SmtpTransport, transport_from_url


def smtp(url: str) -> SmtpTransport:
    transport = transport_from_url(url)
    assert isinstance(transport, SmtpTransport)
    return transport


def test_outbox_urls(tmp_path: Path) -> None:
    absolute = transport_from_url(f"outbox://{tmp_path}/mail")
    assert isinstance(absolute, OutboxTransport) and absolute.directory == tmp_path / "mail"
    relative = transport_from_url("outbox://var/outbox")
    assert isinstance(relative, OutboxTransport) and relative.directory == Path("var/outbox")
    with pytest.raises(ValueError, match="directory"):
        transport_from_url("outbox://")


def test_smtp_url_with_credentials_and_options() -> None:
    transport = smtp(
        "smtp://us%40er:p%3Ass%20w%2Frd@mail.example.com:2525"
        "?tls=starttls&timeout=2.5&verify=false&retries=5&backoff=0.1&helo=me"
    )
    assert (transport.host, transport.port, transport.tls) == ("mail.example.com", 2525, "starttls")
    assert (transport.username, transport._password) == ("us@er", "p:ss w/rd")
    assert (transport.timeout, transport.retries, transport.backoff) == (2.5, 5, 0.1)
    assert transport.local_hostname == "me"
    assert transport._ssl_context.verify_mode == ssl.CERT_NONE
    assert "p:ss" not in repr(transport)


def test_tls_defaults_by_scheme_and_port() -> None:
    assert smtp("smtp://mail.example.com:587").tls == "starttls"
    assert smtp("smtp://mail.example.com:587?tls=none").tls == "none"
    assert smtp("smtp://mail.example.com:2525").tls == "none"
    plain = smtp("smtp://mail.example.com")
    assert (plain.port, plain.tls, plain.username) == (25, "none", None)
    implicit = smtp("smtps://mail.example.com")
    assert (implicit.port, implicit.tls) == (465, "implicit")
    assert implicit._ssl_context.verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com", "'ftp'"),
        ("smtp://mail.example.com?tls=maybe", "tls must be"),
        ("smtps://mail.example.com?tls=none", "implicit TLS"),
        ("smtp://mail.example.com?verify=perhaps", "verify must be"),
        ("smtp://mail.example.com?tsl=starttls", "unknown smtp URL option"),
        ("smtp://:25", "host"),
    ],
)
def test_bad_urls_raise_value_error(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        transport_from_url(url)


def test_transport_errors_survive_pickling() -> None:
    permanent = pickle.loads(
        pickle.dumps(
            PermanentTransportError("SMTP 550 5.1.1 no such user", smtp_code=550, hard_bounce=True)
        )
    )
    assert (permanent.smtp_code, permanent.hard_bounce, str(permanent)) == (
        550,
        True,
        "SMTP 550 5.1.1 no such user",
    )
    retryable = pickle.loads(pickle.dumps(RetryableTransportError("later", smtp_code=451)))
    assert retryable.smtp_code == 451
