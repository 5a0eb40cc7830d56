"""build_message: structure and headers, checked by parsing the bytes back."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest

from connector.email.mime import build_message, make_message_id

HTML = "<html><body><p>Gr\u00fc\u00dfe, caf\u00e9 \u2615</p>" + "x" * 2000 + "</body></html>"
TEXT = "Gr\u00fc\u00dfe, caf\u00e9 \u2615\n"


def build(**overrides: Any) -> EmailMessage:
    arguments: dict[str, Any] = {
        "sender": "Acme Caf\u00e9 <news@acme.example>",
        "to": "J\u00fcrgen M\u00fcller <jm@example.com>",
        "subject": "Ihre Bestellung \u2013 danke sch\u00f6n",
        "html": HTML,
        "text": TEXT,
        "message_id": "<abc123@acme.example>",
        "unsubscribe_url": "https://acme.example/u/tok?s=1",
    }
    arguments.update(overrides)
    return build_message(**arguments)


def parse(message: EmailMessage) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(message.as_bytes())
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_multipart_alternative_text_then_html_in_utf8() -> None:
    parsed = parse(build())

    assert parsed.get_content_type() == "multipart/alternative"
    plain, html = parsed.iter_parts()
    assert plain.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    assert plain.get_content_charset() == html.get_content_charset() == "utf-8"
    # policy.SMTP puts CRLF line ends on the wire
    assert plain.get_content().replace("\r\n", "\n") == TEXT
    assert html.get_content().replace("\r\n", "\n") == HTML + "\n"  # set_content ends lines
    assert parsed["MIME-Version"] == "1.0"


def test_headers_round_trip_and_non_ascii_is_encoded() -> None:
    message = build(date=datetime(2024, 5, 1, 12, 30, tzinfo=UTC))
    raw = message.as_bytes()
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    assert header_block.isascii()  # RFC 2047 encoded, no raw UTF-8 in headers
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))

    parsed = parse(message)
    assert parsed["Subject"] == "Ihre Bestellung \u2013 danke sch\u00f6n"
    assert parsed["From"].addresses[0].display_name == "Acme Caf\u00e9"
    assert parsed["From"].addresses[0].addr_spec == "news@acme.example"
    assert parsed["To"].addresses[0].addr_spec == "jm@example.com"
    assert parsed["Message-ID"] == "<abc123@acme.example>"
    assert parsed["Date"].datetime == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert parsed["List-Unsubscribe"] == "<https://acme.example/u/tok?s=1>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_date_defaults_to_now() -> None:
    parsed = parse(build())
    assert abs((parsed["Date"].datetime - datetime.now(UTC)).total_seconds()) < 60


def test_unsubscribe_headers_depend_on_the_url() -> None:
    without = parse(build(unsubscribe_url=None))
    assert "List-Unsubscribe" not in without and "List-Unsubscribe-Post" not in without

    local = parse(build(unsubscribe_url="http://localhost:5000/u/tok"))
    assert local["List-Unsubscribe"] == "<http://localhost:5000/u/tok>"
    assert "List-Unsubscribe-Post" not in local  # one-click requires https

    with pytest.raises(ValueError, match="http"):
        build(unsubscribe_url="javascript:alert(1)")


def test_extra_headers_are_added_but_cannot_replace_ours() -> None:
    parsed = parse(build(extra_headers={"X-Campaign": "42", "Reply-To": "help@acme.example"}))
    assert parsed["X-Campaign"] == "42" and parsed["Reply-To"] == "help@acme.example"

    for name in ("Subject", "content-type", "List-Unsubscribe"):
        with pytest.raises(ValueError, match="cannot be overridden"):
            build(extra_headers={name: "x"})
    with pytest.raises(ValueError, match="invalid header name"):
        build(extra_headers={"Bad Name:": "x"})


@pytest.mark.parametrize(
    "overrides",
    [
        {"subject": "Hi\r\nBcc: victim@example.com"},
        {"subject": "Hi\nthere"},
        {"sender": "a@example.com\r\nX-Evil: 1"},
        {"to": "b@example.com\nCc: c@example.com"},
        {"unsubscribe_url": "https://acme.example/u\r\nX: 1"},
        {"extra_headers": {"X-Campaign": "1\r\nBcc: d@example.com"}},
    ],
)
def test_cr_lf_in_headers_is_rejected(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="CR or LF"):
        build(**overrides)


def test_message_id_must_be_bracketed() -> None:
    with pytest.raises(ValueError, match="Message-ID"):
        build(message_id="abc@acme.example")


def test_make_message_id_is_unique_and_well_formed() -> None:
    ids = {make_message_id("acme.example") for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"<[0-9a-f]{32}@acme\.example>", i) for i in ids)
    parse(build(message_id=ids.pop()))
    with pytest.raises(ValueError):
        make_message_id("bad domain>")
