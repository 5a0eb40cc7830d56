"""A transport for development and tests: messages become .eml files in a folder."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from email.message import EmailMessage
from pathlib import Path

from connector.email.errors import PermanentTransportError, RetryableTransportError

__all__ = ["OutboxTransport"]

_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._@+-]")


class OutboxTransport:
    """Writes each message to ``<dir>/<message-id>.eml``. Named after the Message-ID so a
    retried send overwrites its earlier copy instead of adding a second one."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    def path_for(self, message: EmailMessage) -> Path:
        message_id = message.get("Message-ID")
        if not message_id:
            raise ValueError("message has no Message-ID")
        raw = str(message_id).strip().strip("<>")
        name = _UNSAFE_FILE_CHARS.sub("_", raw)[:150]
        if name != raw:
            # '~' never survives sanitising, so sanitised names cannot collide with clean ones.
            name += "~" + hashlib.sha256(raw.encode()).hexdigest()[:12]
        return self.directory / f"{name}.eml"

    def send(self, message: EmailMessage) -> None:
        target = self.path_for(message)
        try:
            data = message.as_bytes()
        except (ValueError, UnicodeError) as exc:  # nothing was written: no retry helps
            raise PermanentTransportError(f"cannot serialise the message: {exc}") from exc
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".part")
            try:
                with os.fdopen(handle, "wb") as file:
                    file.write(data)
                os.replace(temporary, target)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as exc:
            raise RetryableTransportError(f"cannot write {target}: {exc}") from exc

    def close(self) -> None:
        pass
