"""Where messages go, chosen by URL (``MAIL_URL``): a pooled SMTP connection
in production, an outbox folder of .eml files in development and tests."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from connector.email.outbox import OutboxTransport
from connector.email.smtp import SmtpTransport, TlsMode

__all__ = ["OutboxTransport", "SmtpTransport", "Transport", "transport_from_url"]

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
    (also ``retries``, ``backoff``, ``idle`` seconds and ``helo`` name)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "outbox":
        directory = unquote(parts.netloc + parts.path)
        if not directory:
            raise ValueError("outbox URL needs a directory, e.g. outbox:///var/mail/outbox")
        return OutboxTransport(directory)
    if scheme not in ("smtp", "smtps"):
        raise ValueError(f"unknown mail transport scheme {scheme!r} (use smtp, smtps or outbox)")
    if not parts.hostname:
        raise ValueError(f"{scheme} URL needs a host")
    options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = set(options) - {"tls", "timeout", "verify", "retries", "backoff", "idle", "helo"}
    if unknown:
        raise ValueError(f"unknown {scheme} URL option(s): {', '.join(sorted(unknown))}")
    port = parts.port or (465 if scheme == "smtps" else 25)
    tls = _tls_mode(scheme, port, options.get("tls"))
    return SmtpTransport(
        parts.hostname,
        port,
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
        tls=tls,
        timeout=float(options.get("timeout", 10)),
        verify=_flag(options.get("verify", "true"), "verify"),
        retries=int(options.get("retries", 2)),
        backoff=float(options.get("backoff", 1.0)),
        max_idle=float(options.get("idle", 30)),
        local_hostname=options.get("helo"),
    )


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
