"""One error tree for the CRM boundary: retryable (429, 5xx, timeouts) and permanent."""

from __future__ import annotations


class CRMError(Exception):
    pass


class RetryableCRMError(CRMError):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotSentError(RetryableCRMError):
    """The call was not made: no rate-limit slot in time, the CRM paused for every worker
    (its limit exceeded), our share of its budget used. Nothing reached the CRM, so the
    attempt does not count; `retry_after` says when to look again."""


class PermanentCRMError(CRMError):
    pass


class DisconnectedError(PermanentCRMError):
    """The CRM no longer accepts our credentials (the app was uninstalled, the refresh
    token was revoked): the account is disconnected until it is installed again."""
