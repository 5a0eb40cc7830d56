"""The per-account secret of a CRM's calls to us (Salesforce's outbound URL `token`, its
callouts' HMAC key): derived from SECRET_KEY, so nothing is stored, under a label of its
own, so the key we sign our own outbound webhooks with is never shared."""

from __future__ import annotations

import hashlib
import hmac


def inbound_secret(secret_key: str, account_id: int) -> str:
    """The per-account secret of Salesforce's calls to us (the outbound URL's `token`,
    the callouts' HMAC key), derived as `services.outbound.webhook_secret` is but under
    its own label: the secret we sign our own webhooks with is never shared."""
    return hmac.new(secret_key.encode(), f"salesforce-inbound:{account_id}".encode(),
                    hashlib.sha256).hexdigest()
