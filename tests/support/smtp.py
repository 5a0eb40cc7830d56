"""A real SMTP server (aiosmtpd) as the receiving end of `smtp://` in tests."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller


@dataclass
class SmtpSink:
    """Collects accepted messages; `reply` can make it answer DATA with an error code."""

    messages: list[EmailMessage] = field(default_factory=list)
    reply: str | None = None
    delay: float = 0.0
    hang_up: bool = False  # close the connection after reading DATA, before answering
    received: threading.Event = field(default_factory=threading.Event)
    # The reply to DATA for one recipient's messages (say a 451), instead of `reply`.
    reply_for: dict[str, str] = field(default_factory=dict)
    # One entry per SMTP session (client connection) that sent DATA.
    sessions: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if not any(known is session for known in self.sessions):
            self.sessions.append(session)
        for recipient in envelope.rcpt_tos:
            if recipient in self.reply_for:
                return self.reply_for[recipient]
        if self.delay:
            import asyncio

            await asyncio.sleep(self.delay)
        if self.hang_up:
            server.transport.close()
            return "421 closing"
        if self.reply:
            return self.reply
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        self.received.set()
        return "250 OK"


@dataclass
class SmtpServer:
    sink: SmtpSink
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}?tls=none"

    @property
    def messages(self) -> list[EmailMessage]:
        return self.sink.messages


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(sink, "127.0.0.1", port)
    finally:
        controller.stop()
