"""One error tree for the CRM boundary: retryable (429, 5xx, timeouts) and permanent."""

from __future__ import annotations


class CRMError(Exception):
    pass


class RetryableCRMError(CRMError):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentCRMError(CRMError):
    pass
