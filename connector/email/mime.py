"""Build the outgoing MIME message: multipart/alternative, UTF-8, with the headers
mailbox providers expect from bulk senders (Message-ID, Date, RFC 8058 one-click
unsubscribe).

The bytes are assembled by hand: headers RFC 2047-encoded and folded here, both parts
quoted-printable by `binascii.b2a_qp` (C). `email.policy.default` parses every header it
is given and the generator folds it again, which was a third of an email's CPU
(MEASURED.md). The result is still an `EmailMessage`, laid out as the parser would leave
it (raw header values, parts with encoded payloads), so any reader of it sees the usual
API; `as_bytes()` and the SMTP transport take the prebuilt bytes.
"""

from __future__ import annotations

import binascii
import re
import secrets
from collections.abc import Mapping
from datetime import datetime
from email import policy
from email.charset import Charset
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, formatdate, getaddresses
from typing import Any

__all__ = ["WireMessage", "build_message", "make_message_id"]

_MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]")
_HEADER_NAME = re.compile(r"[!-9;-~]+")  # printable ASCII except ':' (RFC 5322 ftext)
# Headers build_message owns; extra_headers may not replace them.
_RESERVED = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "list-unsubscribe",
        "list-unsubscribe-post",
    }
)
# Extra headers holding addresses: display names are encoded, addresses never are.
_ADDRESS_HEADERS = frozenset({"reply-to", "sender", "resent-from", "resent-to"})
# An atom-only display name needs no quotes (RFC 5322 atext plus spaces).
_PLAIN_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")
_UTF8 = Charset("utf-8")
_LINE = 78  # RFC 5322's SHOULD; encoded words are at most 75 (RFC 2047)
_POLICY = policy.SMTP


class WireMessage(EmailMessage):
    """An EmailMessage that carries its own wire bytes (CRLF line ends, 7-bit), so
    sending it flattens nothing. Changed after it was built, it is flattened as usual."""

    envelope_from: str
    recipient: str
    _wire: bytes
    _built: list[tuple[list[tuple[str, Any]], Any]]

    @property
    def wire(self) -> bytes | None:
        """The prebuilt bytes, or None when the message was changed since."""
        me: Any = self  # the email package's own attributes, untyped in typeshed
        parts = me._payload if isinstance(me._payload, list) else []
        now = [(me._headers, me._payload)] + [(p._headers, p._payload) for p in parts]
        if len(now) != len(self._built) or any(
            headers != built_headers or payload is not built_payload
            for (headers, payload), (built_headers, built_payload) in zip(
                now, self._built, strict=True
            )
        ):
            return None
        return self._wire

    def envelope(self) -> tuple[str, list[str], bytes] | None:
        """(MAIL FROM, RCPT TO, the bytes) when the prebuilt bytes are still the message."""
        wire = self.wire
        return None if wire is None else (self.envelope_from, [self.recipient], wire)

    def as_bytes(self, unixfrom: bool = False, policy: Any = None) -> bytes:
        wire = None if unixfrom or policy is not None else self.wire
        return wire if wire is not None else super().as_bytes(unixfrom, policy)


def make_message_id(domain: str) -> str:
    """A new, unguessable ``<random@domain>`` Message-ID (no pid or clock in it)."""
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"not a usable Message-ID domain: {domain!r}")
    return f"<{secrets.token_hex(16)}@{domain}>"


def build_message(
    *,
    sender: str,
    to: str,
    subject: str,
    html: str,
    text: str,
    message_id: str,
    unsubscribe_url: str | None,
    extra_headers: Mapping[str, str] | None = None,
    date: datetime | None = None,
) -> EmailMessage:
    """A multipart/alternative message (text first, then HTML) ready for any transport.

    With an https ``unsubscribe_url`` both ``List-Unsubscribe`` and the RFC 8058
    ``List-Unsubscribe-Post`` one-click header are set; an http URL (local development)
    gets ``List-Unsubscribe`` only, since one-click requires https. ``date`` defaults to
    now. Header values containing CR or LF raise ValueError (header injection).
    """
    for name, value in (("From", sender), ("To", to), ("Subject", subject),
                        ("Message-ID", message_id)):
        _check_value(name, value)
    if not _MESSAGE_ID.fullmatch(message_id):
        raise ValueError(f"Message-ID must look like <id@domain>, got {message_id!r}")
    envelope_from, from_value = _address("From", sender)
    recipient, to_value = _address("To", to)
    headers = [
        ("From", from_value),
        ("To", to_value),
        ("Subject", _unstructured("Subject", subject)),
        ("Date", format_datetime(date) if date is not None else formatdate(usegmt=True)),
        ("Message-ID", message_id),
    ]
    if unsubscribe_url is not None:
        _check_value("List-Unsubscribe", unsubscribe_url)
        scheme = unsubscribe_url.split(":", 1)[0].lower()
        if scheme not in ("https", "http") or not unsubscribe_url.isascii():
            raise ValueError(f"unsubscribe URL must be http(s), got {unsubscribe_url!r}")
        headers.append(("List-Unsubscribe", f"<{unsubscribe_url}>"))
        if scheme == "https":
            headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    for name, value in (extra_headers or {}).items():
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"invalid header name {name!r}")
        if name.lower() in _RESERVED:
            raise ValueError(f"header {name!r} is set by build_message and cannot be overridden")
        _check_value(name, value)
        if name.lower() in _ADDRESS_HEADERS:
            headers.append((name, _address(name, value)[1]))
        else:
            headers.append((name, _unstructured(name, value)))
    boundary = f"=={secrets.token_hex(16)}=="  # '=' never occurs in quoted-printable
    headers.append(("MIME-Version", "1.0"))
    headers.append(("Content-Type", f'multipart/alternative; boundary="{boundary}"'))

    message = WireMessage(policy=_POLICY)
    tree: Any = message  # the email package's own attributes, untyped in typeshed
    tree._headers = headers  # as the parser stores them: raw, already encoded
    parts: list[Any] = [_part("plain", text), _part("html", html)]
    tree._payload = parts
    message.preamble, message.epilogue = None, ""
    chunks = [f"{name}: {value}\r\n" for name, value in headers]
    for part in parts:
        # The CRLF before a boundary belongs to the boundary (RFC 2046 5.1.1).
        chunks.append(f"\r\n--{boundary}\r\n")
        chunks.extend(f"{name}: {value}\r\n" for name, value in part._headers)
        chunks.append("\r\n")
        chunks.append(part._payload)
    chunks.append(f"\r\n--{boundary}--\r\n")
    message._wire = "".join(chunks).encode("ascii")
    message._built = [(list(headers), parts)] + [(list(p._headers), p._payload) for p in parts]
    message.envelope_from, message.recipient = envelope_from, recipient
    return message


def _part(subtype: str, content: str) -> Any:
    """One text part, quoted-printable, every line ending in CRLF (as set_content does)."""
    if "\r" in content:
        content = content.replace("\r\n", "\n").replace("\r", "\n")
    if not content.endswith("\n"):
        content += "\n"
    encoded = binascii.b2a_qp(content.encode("utf-8", "surrogateescape"), istext=True)
    part: Any = MIMEPart(policy=_POLICY)
    part._headers = [
        ("Content-Type", f'text/{subtype}; charset="utf-8"'),
        ("Content-Transfer-Encoding", "quoted-printable"),
    ]
    part._payload = encoded.decode("ascii").replace("\n", "\r\n")
    return part


def _address(name: str, value: str) -> tuple[str, str]:
    """(the address, the header value): one mailbox, its display name encoded when it is
    not ASCII. Refuses what is not one plain mailbox (a group, a list, a non-ASCII
    address, which would need SMTPUTF8)."""
    pairs = getaddresses([value])
    if len(pairs) != 1 or not pairs[0][1] or not pairs[0][1].isascii():
        raise ValueError(f"header {name} must hold one ASCII email address, got {value!r}")
    display, address = pairs[0]
    if " " in address or "<" in address or ">" in address:
        raise ValueError(f"header {name} must hold one ASCII email address, got {value!r}")
    if not display:
        return address, address
    if not display.isascii():
        return address, f"{_encoded_words(display, len(name) + 2)} <{address}>"
    if _PLAIN_NAME.fullmatch(display):
        return address, f"{display} <{address}>"
    quoted = display.replace("\\", "\\\\").replace('"', '\\"')
    return address, f'"{quoted}" <{address}>'


def _unstructured(name: str, value: str) -> str:
    """ASCII text as it is (folded at spaces when long); anything else as UTF-8 encoded
    words."""
    if value.isascii():
        return _fold(value, len(name) + 2)
    return _encoded_words(value, len(name) + 2)


def _encoded_words(value: str, used: int) -> str:
    lines = _UTF8.header_encode_lines(value, _lengths(_LINE - used))
    return "\r\n ".join(line for line in lines if line)


def _lengths(first: int) -> Any:
    yield min(first, 75)
    while True:
        yield 75 - 1  # after the folding space


def _fold(value: str, used: int) -> str:
    if used + len(value) <= _LINE:
        return value
    lines, line = [], ""
    for word in value.split(" "):
        if line and used + len(line) + 1 + len(word) > _LINE:
            lines.append(line)
            line, used = word, 1
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\r\n ".join(lines)


def _check_value(name: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        raise ValueError(f"header {name} must not contain CR or LF")
