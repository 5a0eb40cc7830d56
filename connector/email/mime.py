"""Build the outgoing MIME message: multipart/alternative, UTF-8, with the headers
mailbox providers expect from bulk senders (Message-ID, Date, RFC 8058 one-click
unsubscribe)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formatdate

__all__ = ["build_message", "make_message_id"]

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
    headers: dict[str, str] = {
        "From": sender,
        "To": to,
        "Subject": subject,
        "Message-ID": message_id,
    }
    if unsubscribe_url is not None:
        headers["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    for name, value in headers.items():
        _check_value(name, value)
    if not _MESSAGE_ID.fullmatch(message_id):
        raise ValueError(f"Message-ID must look like <id@domain>, got {message_id!r}")

    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(date) if date is not None else formatdate(usegmt=True)
    message["Message-ID"] = message_id
    if unsubscribe_url is not None:
        scheme = unsubscribe_url.split(":", 1)[0].lower()
        if scheme not in ("https", "http"):
            raise ValueError(f"unsubscribe URL must be http(s), got {unsubscribe_url!r}")
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        if scheme == "https":
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    for name, value in (extra_headers or {}).items():
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"invalid header name {name!r}")
        if name.lower() in _RESERVED:
            raise ValueError(f"header {name!r} is set by build_message and cannot be overridden")
        _check_value(name, value)
        message[name] = value

    # quoted-printable keeps MJML's very long HTML lines legal without base64's spam smell.
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message


def _check_value(name: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        raise ValueError(f"header {name} must not contain CR or LF")
