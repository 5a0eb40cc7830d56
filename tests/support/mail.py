"""What the outbox transport wrote, parsed."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import cast

from connector.runtime import Runtime


def outbox(rt: Runtime) -> list[EmailMessage]:
    """Every email in the runtime's outbox folder, oldest file name first."""
    folder = Path(rt.settings.mail.removeprefix("outbox://"))
    if not folder.exists():
        return []
    return [
        cast(EmailMessage, message_from_bytes(p.read_bytes(), policy=policy.default))
        for p in sorted(folder.glob("*.eml"))
    ]
