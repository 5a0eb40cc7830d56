"""Where messages go, chosen by URL (``MAIL_URL``): a pooled SMTP connection
in production, an outbox folder of .eml files in development and tests."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from connector.email.outbox import OutboxTransport
from connector.email.smtp import SmtpTransport, TlsMode

__all__ = [
    "OutboxTransport",
    "SmtpTransport",
    "Transport",
    "check_mail_url",
    "parse_mail_url",
    "transport_from_url",
]

N = TypeVar("N", int, float)
# A DNS name or an IP literal (urlsplit gives IPv6 without brackets): no spaces, no CR/LF
# (helo= ends up in the EHLO command line).
_HOST = re.compile(r"[A-Za-z0-9_.:-]{1,253}")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Hand the message over; raises TransportError subclasses."""

    def close(self) -> None:
        """Release connections; the transport may be used again afterwards."""


def transport_from_url(url: str) -> Transport:
    """``outbox:///abs/dir``, ``outbox://relative/dir``, or
    ``smtp[s]://user:pass@host:port?tls=starttls|none&timeout=10&verify=false``
    (also ``idle`` seconds and ``helo`` name; ``retries`` and ``backoff`` are accepted and
    ignored: a 4xx defers that one message, services/sending.py). Opens nothing: an SMTP
    connection is made by the first send."""
    kind, options = parse_mail_url(url)
    if kind == "outbox":
        return OutboxTransport(options["directory"])
    return SmtpTransport(**options)


def check_mail_url(url: str) -> None:
    """Raise ValueError saying what is wrong with a ``MAIL_URL`` (settings check it at
    start-up, so a bad one never reaches the first send)."""
    parse_mail_url(url)


def parse_mail_url(url: str) -> tuple[str, dict[str, Any]]:
    """("outbox", {directory}) or ("smtp", SmtpTransport's keyword arguments)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "outbox":
        directory = unquote(parts.netloc + parts.path)
        if not directory:
            raise ValueError("outbox URL needs a directory, e.g. outbox:///var/mail/outbox")
        return "outbox", {"directory": directory}
    if scheme not in ("smtp", "smtps"):
        raise ValueError(f"unknown mail transport scheme {scheme!r} (use smtp, smtps or outbox)")
    if not parts.hostname:
        raise ValueError(f"{scheme} URL needs a host")
    if not _HOST.fullmatch(parts.hostname):
        raise ValueError(f"{scheme} URL has an invalid host {parts.hostname!r}")
    options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = set(options) - {"tls", "timeout", "verify", "retries", "backoff", "idle", "helo"}
    if unknown:
        raise ValueError(f"unknown {scheme} URL option(s): {', '.join(sorted(unknown))}")
    try:
        explicit_port = parts.port
    except ValueError as exc:  # "Port out of range 0-65535", "could not be cast"
        raise ValueError(f"{scheme} URL: {exc}") from None
    port = explicit_port or (465 if scheme == "smtps" else 25)
    helo = options.get("helo")
    if helo is not None and not _HOST.fullmatch(helo):
        raise ValueError(f"helo must be a host name, got {helo!r}")
    return "smtp", {
        "host": parts.hostname,
        "port": port,
        "username": unquote(parts.username) if parts.username is not None else None,
        "password": unquote(parts.password) if parts.password is not None else None,
        "tls": _tls_mode(scheme, port, options.get("tls")),
        "timeout": _number(options, "timeout", 10.0, float, minimum=0.001),
        "verify": _flag(options.get("verify", "true"), "verify"),
        "retries": _number(options, "retries", 2, int, minimum=0),
        "backoff": _number(options, "backoff", 1.0, float, minimum=0),
        "max_idle": _number(options, "idle", 30.0, float, minimum=0),
        "local_hostname": helo,
    }


def _number(options: dict[str, str], name: str, default: N, kind: Callable[[str], N],
            *, minimum: float) -> N:
    if name not in options:
        return default
    try:
        value = kind(options[name])
    except ValueError:
        value = None
    if value is None or not (math.isfinite(value) and value >= minimum):
        what = "a whole number" if kind is int else "a number"
        raise ValueError(f"{name} must be {what} >= {minimum:g}, got {options[name]!r}")
    return value


def _tls_mode(scheme: str, port: int, requested: str | None) -> TlsMode:
    if scheme == "smtps":
        if requested not in (None, "implicit", "ssl"):
            raise ValueError(f"smtps:// always uses implicit TLS; tls={requested} conflicts")
        return "implicit"
    if requested is None:
        return "starttls" if port == 587 else "none"
    if requested not in ("starttls", "none"):
        raise ValueError(f"tls must be starttls or none, got {requested!r}")
    return "starttls" if requested == "starttls" else "none"


def _flag(value: str, name: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ValueError(f"{name} must be true or false, got {value!r}")
