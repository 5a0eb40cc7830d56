"""A real SMTP server (aiosmtpd) on 127.0.0.1 that records what it receives and can be
told to answer with given replies."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from connector.email.mime import build_message, make_message_id
from connector.email.transports import SmtpTransport


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RecordingHandler:
    """Keeps every accepted message; ``rcpt_replies``/``data_replies`` are answered (in
    order, once each) instead of accepting. ``pipelining`` offers PIPELINING (RFC 2920)."""

    def __init__(self, *, pipelining: bool = False) -> None:
        self.pipelining = pipelining
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []
        self.connections: list[SMTP] = []  # one protocol instance per client connection
        self.rcpt_replies: list[str] = []
        self.data_replies: list[str] = []
        self.drop_on_data = False

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname  # this hook's duty in aiosmtpd
        if not any(known is server for known in self.connections):  # EHLO again after STARTTLS
            self.connections.append(server)
        if self.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.rcpt_replies:
            return self.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        assert isinstance(envelope.content, bytes)
        parsed = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.envelopes.append(envelope)
        if self.drop_on_data and server.transport is not None:
            server.transport.close()  # the message is in, but the client never hears "250"
        return "250 OK"


@dataclass
class Server:
    controller: Controller
    handler: RecordingHandler
    port: int

    def url(self, scheme: str = "smtp", userinfo: str = "", query: str = "") -> str:
        at = f"{userinfo}@" if userinfo else ""
        return f"{scheme}://{at}127.0.0.1:{self.port}?helo=localhost&backoff=0{query}"

    def drop_connections(self) -> None:
        """Close every client connection from the server side, as an idle timeout would."""

        async def close_all() -> None:
            for connection in self.handler.connections:
                if connection.transport is not None:
                    connection.transport.close()
            await asyncio.sleep(0.05)

        asyncio.run_coroutine_threadsafe(close_all(), self.controller.loop).result(timeout=5)


@dataclass
class Servers:
    pipelining: bool = False
    started: list[Controller] = field(default_factory=list)

    def start(self, handler: RecordingHandler | None = None, **options: Any) -> Server:
        handler = handler or RecordingHandler(pipelining=self.pipelining)
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
        controller.start()
        self.started.append(controller)
        return Server(controller, handler, port)


@pytest.fixture(params=["plain", "pipelining"])
def servers(request: pytest.FixtureRequest) -> Iterator[Servers]:
    """Each test against a server without PIPELINING and one with it (the transport then
    sends MAIL, RCPT and DATA in one write)."""
    running = Servers(pipelining=request.param == "pipelining")
    yield running
    for controller in running.started:
        controller.stop()


@pytest.fixture
def smtp_server(servers: Servers) -> Server:
    return servers.start()


@pytest.fixture
def transports() -> Iterator[Callable[[SmtpTransport], SmtpTransport]]:
    """Registers transports so each test's connections are closed afterwards."""
    opened: list[SmtpTransport] = []

    def register(transport: SmtpTransport) -> SmtpTransport:
        opened.append(transport)
        return transport

    yield register
    for transport in opened:
        transport.close()


@dataclass(frozen=True)
class Certificate:
    cert_file: Path
    key_file: Path
    pem: str

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.pem)


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for localhost / 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (folder / "cert.pem").write_bytes(pem)
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(folder / "cert.pem", folder / "key.pem", pem.decode())


def make_message(to: str = "ada@example.com", subject: str = "Hello \u2615") -> EmailMessage:
    return build_message(
        sender="Acme <news@acme.example>",
        to=to,
        subject=subject,
        html="<p>Hi <b>Ada</b></p>",
        text="Hi Ada\n",
        message_id=make_message_id("acme.example"),
        unsubscribe_url="https://acme.example/u/tok",
    )
