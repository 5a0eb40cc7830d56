"""The email boundary's error tree: template failures, and transport failures split into
retryable and permanent so jobs retry only what can succeed later."""

from __future__ import annotations


class TemplateError(Exception):
    """A template could not be rendered; ``str(e)`` is shown to users, so it names the
    template and, when known, the file and line."""

    def __init__(
        self, template: str, reason: str, *, source: str | None = None, line: int | None = None
    ) -> None:
        # args stay (template, reason) so the exception pickles and unpickles (rq does this).
        super().__init__(template, reason)
        self.template = template
        self.reason = reason
        self.source = source
        self.line = line

    def __str__(self) -> str:
        where = ""
        if self.source and self.line:
            where = f" ({self.source}, line {self.line})"
        elif self.source:
            where = f" ({self.source})"
        elif self.line:
            where = f" (line {self.line})"
        return f"template {self.template!r}{where}: {self.reason}"


class TransportError(Exception):
    """Sending failed. ``smtp_code`` is the server's reply code when there was one."""

    def __init__(self, message: str, *, smtp_code: int | None = None) -> None:
        super().__init__(message)
        self.smtp_code = smtp_code


class RetryableTransportError(TransportError):
    """Worth trying again later: 4xx replies after our own retries, refused or reset
    connections, timeouts."""


class DeliveryUnknownError(TransportError):
    """The message was handed over but the answer never came (the connection died during
    DATA). It may have been accepted: retrying could send it twice, so callers must not."""


class PermanentTransportError(TransportError):
    """The server said no for good (5xx). ``hard_bounce`` is True when the recipient
    address itself was rejected, so the contact should be suppressed."""

    def __init__(
        self, message: str, *, smtp_code: int | None = None, hard_bounce: bool = False
    ) -> None:
        super().__init__(message, smtp_code=smtp_code)
        self.hard_bounce = hard_bounce
