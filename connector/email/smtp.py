"""The production transport: one pooled SMTP connection, SMTP replies mapped onto the
retryable/permanent error tree. A 4xx reply is raised at once: the send ledger backs that
one message off (services/sending.py), a worker never sleeps on it."""

from __future__ import annotations

import contextlib
import logging
import re
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any, Literal

from connector.email.errors import (
    DeliveryUnknownError,
    PermanentTransportError,
    RetryableTransportError,
    TransportError,
)
from connector.email.mime import WireMessage

__all__ = ["SmtpTransport", "TlsMode"]

log = logging.getLogger(__name__)

TlsMode = Literal["none", "starttls", "implicit"]
_ENHANCED_CODE = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


class _SMTP(smtplib.SMTP):
    """Remembers whether the message's bytes were sent (after the server's 354 to DATA):
    from then on a dropped connection may mean the message was accepted, so resending it
    could deliver it twice. A hang-up on the DATA command itself is still safe to retry."""

    data_started = False
    _in_data = False

    def data(self, msg: Any) -> tuple[int, bytes]:  # msg: whatever smtplib accepts
        self._in_data = True
        try:
            reply: tuple[int, bytes] = super().data(msg)
        finally:
            self._in_data = False
        return reply

    def putcmd(self, cmd: str, args: str = "") -> None:
        # The DATA command goes through send() too; it is not the message.
        in_data, self._in_data = self._in_data, False
        try:
            super().putcmd(cmd, args)
        finally:
            self._in_data = in_data

    def send(self, s: Any) -> None:
        if self._in_data:
            self.data_started = True
        super().send(s)


    def sendmail(self, from_addr: str, to_addrs: Any, msg: Any, mail_options: Any = (),
                 rcpt_options: Any = ()) -> dict[str, tuple[int, bytes]]:
        """MAIL, RCPT and DATA in one write when the server offers PIPELINING (RFC 2920):
        one round trip before the message instead of three. Otherwise smtplib's."""
        recipients = [to_addrs] if isinstance(to_addrs, str) else list(to_addrs)
        self.ehlo_or_helo_if_needed()
        if (mail_options or rcpt_options or len(recipients) != 1
                or not isinstance(msg, bytes) or not self.has_extn("pipelining")):
            return super().sendmail(from_addr, to_addrs, msg, mail_options, rcpt_options)
        (to,) = recipients
        commands = (f"MAIL FROM:{smtplib.quoteaddr(from_addr)}\r\n"
                    f"RCPT TO:{smtplib.quoteaddr(to)}\r\nDATA\r\n")
        super().send(commands.encode("ascii"))
        mail, rcpt, data = self.getreply(), self.getreply(), self.getreply()
        if data[0] == 354 and (mail[0] != 250 or rcpt[0] not in (250, 251)):
            super().send(b".\r\n")  # a server that took DATA anyway: an empty message,
            self.getreply()  # refused for want of a recipient
        if mail[0] != 250:
            self._rset_quietly()
            raise smtplib.SMTPSenderRefused(mail[0], mail[1], from_addr)
        if rcpt[0] not in (250, 251):
            self._rset_quietly()
            raise smtplib.SMTPRecipientsRefused({to: rcpt})
        if data[0] != 354:
            self._rset_quietly()
            raise smtplib.SMTPDataError(*data)
        body = msg  # dot-stuffing, as smtplib.data does (rare: a line starting with ".")
        if body.startswith(b".") or b"\n." in body:
            body = re.sub(rb"(?m)^\.", b"..", body)
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        self.data_started = True
        super().send(body + b".\r\n")
        code, reply = self.getreply()
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)
        return {}

    def _rset_quietly(self) -> None:
        with contextlib.suppress(smtplib.SMTPServerDisconnected):
            self.rset()


class _SMTPS(_SMTP, smtplib.SMTP_SSL):
    pass


class SmtpTransport:
    """One pooled SMTP connection, shared by threads under a lock, reopened when the
    server hung up or it sat idle too long.

    ``retries`` and ``backoff`` are accepted for ``MAIL_URL`` compatibility and ignored: a
    4xx reply used to be retried here, sleeping, which held a worker ~3 s per message
    through a 451 period (issue 7)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        tls: TlsMode = "none",
        timeout: float = 10.0,
        verify: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        retries: int = 0,
        backoff: float = 1.0,
        max_idle: float = 30.0,
        local_hostname: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host, self.port, self.tls, self.timeout = host, port, tls, timeout
        self.username, self._password = username, password
        self.retries, self.backoff, self.max_idle = retries, backoff, max_idle
        self.local_hostname = local_hostname
        self._ssl_context = ssl_context or _client_context(verify)
        self._sleep, self._clock = sleep, clock
        self._lock = threading.Lock()
        self._connection: _SMTP | None = None
        self._last_used = 0.0

    def __repr__(self) -> str:  # never shows the password
        return (
            f"SmtpTransport({self.host!r}, {self.port}, tls={self.tls!r}, user={self.username!r})"
        )

    def send(self, message: EmailMessage) -> None:
        try:
            with self._lock:
                self._send_once(message)
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as exc:
            raise _classify(exc) from exc

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _send_once(self, message: EmailMessage) -> None:
        """One delivery attempt; reconnects once, transparently, when the pooled connection
        turns out to be dead before DATA."""
        for reconnected in (False, True):
            connection = self._connect()
            connection.data_started = False
            try:
                envelope = message.envelope() if isinstance(message, WireMessage) else None
                if envelope is not None:  # built by mime.py: the bytes are ready
                    refused = connection.sendmail(*envelope)
                else:
                    refused = connection.send_message(message)
            except smtplib.SMTPServerDisconnected as exc:
                self._drop()
                if connection.data_started:
                    raise DeliveryUnknownError(
                        f"connection lost during DATA, delivery unknown: {exc}"
                    ) from exc
                if reconnected:
                    raise RetryableTransportError(f"server disconnected: {exc}") from exc
                log.info("SMTP connection to %s was closed; reconnecting", self.host)
                continue
            except smtplib.SMTPRecipientsRefused:
                raise
            except smtplib.SMTPResponseException as exc:
                if exc.smtp_code == 421 or connection.sock is None:
                    self._drop()  # 421 means the server is closing the channel
                raise
            except smtplib.SMTPNotSupportedError as exc:
                raise PermanentTransportError(f"SMTP server cannot send this: {exc}") from exc
            except (OSError, smtplib.SMTPException) as exc:
                self._drop()
                if connection.data_started:  # e.g. a timeout waiting for the final reply
                    raise DeliveryUnknownError(
                        f"no reply after the message was sent, delivery unknown: {exc}"
                    ) from exc
                raise RetryableTransportError(f"SMTP send failed: {exc}") from exc
            except Exception as exc:
                # Not the network: the message itself could not be flattened or encoded (a
                # lone surrogate, two Resent- blocks). Sending it again fails the same way.
                self._drop()
                if connection.data_started:
                    raise DeliveryUnknownError(
                        f"failed while sending the message, delivery unknown: {exc!r}"
                    ) from exc
                raise PermanentTransportError(
                    f"message cannot be sent: {type(exc).__name__}: {exc}"
                ) from exc
            self._last_used = self._clock()
            if refused:
                # Accepted for some recipients: raising would make the caller resend to all.
                log.warning("SMTP server refused some recipients: %s", refused)
            return

    def _connect(self) -> _SMTP:
        if self._connection is not None:
            if self._clock() - self._last_used <= self.max_idle:
                return self._connection
            self._drop()
        connection: _SMTP | None = None
        try:
            if self.tls == "implicit":
                connection = _SMTPS(
                    self.host,
                    self.port,
                    local_hostname=self.local_hostname,
                    timeout=self.timeout,
                    context=self._ssl_context,
                )
            else:
                connection = _SMTP(
                    self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
                )
            connection.ehlo()
            if self.tls == "starttls":
                connection.starttls(context=self._ssl_context)
                connection.ehlo()
            if self.username is not None:
                connection.login(self.username, self._password or "")
        except smtplib.SMTPResponseException:
            _quit_quietly(connection)
            raise
        except smtplib.SMTPNotSupportedError as exc:
            _quit_quietly(connection)
            raise PermanentTransportError(
                f"SMTP server {self.host}:{self.port} lacks a required extension: {exc}"
            ) from exc
        except (OSError, smtplib.SMTPException, UnicodeError, ValueError) as exc:
            # UnicodeError, ValueError: a host name the resolver or TLS cannot take.
            _quit_quietly(connection)
            raise RetryableTransportError(
                f"cannot connect to SMTP server {self.host}:{self.port}: {exc}"
            ) from exc
        self._connection = connection
        self._last_used = self._clock()
        return connection

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        _quit_quietly(connection)


def _quit_quietly(connection: smtplib.SMTP | None) -> None:
    if connection is None:
        return
    try:
        connection.quit()
    except (OSError, smtplib.SMTPException):
        connection.close()


def _client_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _classify(
    exc: smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused,
) -> TransportError:
    """Map an SMTP reply to our error tree. Only RCPT and DATA replies can be bounces:
    a 5xx to MAIL FROM, AUTH or the greeting is about us, not the recipient."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        # Every recipient was refused (we send to one): report the first reply.
        code, raw = next(iter(exc.recipients.values()), (0, str(exc)))
    else:
        code, raw = exc.smtp_code, exc.smtp_error
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    description = f"SMTP {code} {text}".strip()
    if 400 <= code < 500:
        return RetryableTransportError(description, smtp_code=code)
    if 500 <= code < 600:
        recipient_stage = isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPDataError)
        return PermanentTransportError(
            description,
            smtp_code=code,
            hard_bounce=recipient_stage and _is_hard_bounce(code, text),
        )
    return RetryableTransportError(description, smtp_code=code or None)


def _is_hard_bounce(code: int, text: str) -> bool:
    """The recipient address is bad: 5.1.x when the server gives an enhanced status code
    (so "550 5.7.1 spam" is not a bounce of the address; 5.1.7/5.1.8 are about the
    sender), else a plain 550/551/553."""
    enhanced = _ENHANCED_CODE.search(text)
    if enhanced and enhanced.group(1) == "5":
        return enhanced.group(2) == "1" and enhanced.group(3) not in ("7", "8")
    return code in (550, 551, 553)
