"""Which error a failed send raises decides what the sender does: a failure before any
byte of the message reached the server is retryable or permanent (safe to retry or to
fail with its reason), never "delivery unknown" and never an unexpected exception type;
once the message's bytes are out, only "delivery unknown" is honest."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from email.message import EmailMessage

import pytest

from connector.email.errors import (
    DeliveryUnknownError,
    PermanentTransportError,
    RetryableTransportError,
)
from connector.email.transports import SmtpTransport
from tests.integration.email.conftest import Server, make_message

Register = Callable[[SmtpTransport], SmtpTransport]


class ScriptedServer:
    """A bare SMTP server on a socket that misbehaves at one point of the dialogue:
    `at_data` is "close" (hang up on the DATA command, before 354) or "silent" (take the
    whole message, then never answer)."""

    def __init__(self, at_data: str, *, pipelining: bool = False) -> None:
        self.at_data, self.pipelining = at_data, pipelining
        self.message_bytes = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            with connection:
                self._dialogue(connection.makefile("rwb"))

    def _dialogue(self, stream) -> None:  # type: ignore[no-untyped-def]
        def say(line: str) -> None:
            stream.write(line.encode() + b"\r\n")
            stream.flush()

        say("220 scripted")
        for raw in stream:
            command = raw.decode().strip().upper()
            if command.startswith(("EHLO", "HELO")):
                if self.pipelining:
                    say("250-scripted")
                say("250 PIPELINING" if self.pipelining else "250 scripted")
            elif command == "DATA":
                if self.at_data == "close":
                    return
                say("354 go ahead")
                for line in stream:
                    self.message_bytes += len(line)
                    if line == b".\r\n":
                        break
                self._stop.wait(5)  # never answers
                return
            elif command == "QUIT":
                say("221 bye")
                return
            else:
                say("250 OK")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.listener.close()


@pytest.fixture(params=["plain", "pipelining"])
def scripted(request: pytest.FixtureRequest) -> Iterator[Callable[[str], ScriptedServer]]:
    started: list[ScriptedServer] = []

    def start(at_data: str) -> ScriptedServer:
        started.append(ScriptedServer(at_data, pipelining=request.param == "pipelining"))
        return started[-1]

    yield start
    for server in started:
        server.close()


def transport(register: Register, port: int, **options: object) -> SmtpTransport:
    return register(
        SmtpTransport("127.0.0.1", port, local_hostname="localhost", backoff=0, **options)  # type: ignore[arg-type]
    )


def test_hang_up_on_the_data_command_is_retryable_not_unknown(
    scripted: Callable[[str], ScriptedServer], transports: Register
) -> None:
    server = scripted("close")
    with pytest.raises(RetryableTransportError):
        transport(transports, server.port, timeout=2).send(make_message())
    assert server.message_bytes == 0


def test_silence_after_the_message_was_sent_is_delivery_unknown(
    scripted: Callable[[str], ScriptedServer], transports: Register
) -> None:
    # A timeout waiting for the reply to the message: it may have been accepted, so a
    # retry could deliver it twice.
    server = scripted("silent")
    with pytest.raises(DeliveryUnknownError):
        transport(transports, server.port, timeout=0.5).send(make_message())
    assert server.message_bytes > 0


def unserializable() -> EmailMessage:
    message = make_message()
    message.get_payload()[0].set_payload("Hi \ud800")  # a lone surrogate is not text
    return message


def test_a_message_that_cannot_be_serialized_is_permanent_and_sends_nothing(
    smtp_server: Server, transports: Register
) -> None:
    with pytest.raises(PermanentTransportError, match="cannot be sent"):
        transport(transports, smtp_server.port).send(unserializable())
    assert smtp_server.handler.envelopes == []
    # The connection is still good for the next message.
    transport(transports, smtp_server.port).send(make_message())
    assert len(smtp_server.handler.messages) == 1



class HoldingServer:
    """Offers PIPELINING and answers nothing after EHLO until DATA has arrived: a client
    that waits for each reply never gets past MAIL. Records the commands it read before
    answering, answers `mail_reply` to MAIL and accepts the rest."""

    def __init__(self, mail_reply: str = "250 OK") -> None:
        self.mail_reply = mail_reply
        self.before_replies: list[str] = []
        self.messages = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        connection.settimeout(5)
        with connection:
            stream = connection.makefile("rwb")

            def say(*lines: str) -> None:
                stream.write(b"".join(line.encode() + b"\r\n" for line in lines))
                stream.flush()

            say("220 holding")
            for raw in stream:
                command = raw.decode().strip().upper()
                if command.startswith("EHLO"):
                    say("250-holding", "250 PIPELINING")
                elif command.startswith(("MAIL", "RCPT")):
                    self.before_replies.append(command.split(":")[0])
                elif command == "DATA":
                    self.before_replies.append("DATA")
                    refused = not self.mail_reply.startswith("2")
                    say(self.mail_reply, "503 no sender" if refused else "250 OK",
                        "503 no recipients" if refused else "354 go ahead")
                    if refused:
                        continue
                    for line in stream:
                        if line == b".\r\n":
                            break
                    self.messages += 1
                    say("250 queued")
                elif command == "RSET":
                    say("250 reset")
                elif command == "QUIT":
                    say("221 bye")
                    return

    def close(self) -> None:
        self.listener.close()
        self._thread.join(5)


def test_with_pipelining_mail_rcpt_and_data_go_in_one_write(transports: Register) -> None:
    server = HoldingServer()
    try:
        smtp = transport(transports, server.port, timeout=3)
        smtp.send(make_message())
        smtp.close()
    finally:
        server.close()
    assert server.before_replies == ["MAIL FROM", "RCPT TO", "DATA"]
    assert server.messages == 1


def test_a_sender_refused_in_a_pipelined_batch_is_a_permanent_error(
        transports: Register) -> None:
    server = HoldingServer(mail_reply="550 5.7.1 sender not allowed")
    try:
        smtp = transport(transports, server.port, timeout=3)
        with pytest.raises(PermanentTransportError, match="sender not allowed"):
            smtp.send(make_message())
        smtp.close()
    finally:
        server.close()
    assert server.messages == 0
