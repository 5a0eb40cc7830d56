"""SmtpTransport against a real SMTP server: delivery, pooling, reconnects, TLS, AUTH,
and how server replies map to retryable and permanent errors."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from connector.email.errors import (
    DeliveryUnknownError,
    PermanentTransportError,
    RetryableTransportError,
    TransportError,
)
from connector.email.mime import build_message, make_message_id
from connector.email.transports import SmtpTransport, transport_from_url
from tests.integration.email.conftest import (
    Certificate,
    RecordingHandler,
    Server,
    Servers,
    free_port,
    make_message,
)

Register = Callable[[SmtpTransport], SmtpTransport]


def from_url(register: Register, url: str) -> SmtpTransport:
    transport = transport_from_url(url)
    assert isinstance(transport, SmtpTransport)
    return register(transport)


def direct(register: Register, server: Server, **options: object) -> SmtpTransport:
    options.setdefault("local_hostname", "localhost")
    return register(SmtpTransport("127.0.0.1", server.port, **options))  # type: ignore[arg-type]


def test_message_is_delivered_and_parses_back(smtp_server: Server, transports: Register) -> None:
    sent = make_message(to="J\u00fcrgen <jm@example.com>")
    from_url(transports, smtp_server.url()).send(sent)

    [received] = smtp_server.handler.messages
    [envelope] = smtp_server.handler.envelopes
    assert envelope.mail_from == "news@acme.example" and envelope.rcpt_tos == ["jm@example.com"]
    assert received["Subject"] == "Hello \u2615"
    assert received["Message-ID"] == sent["Message-ID"]
    assert received["To"].addresses[0].display_name == "J\u00fcrgen"
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    plain, html = received.iter_parts()
    assert plain.get_content().strip() == "Hi Ada"
    assert html.get_content().strip() == "<p>Hi <b>Ada</b></p>"


def test_lines_starting_with_a_dot_arrive_intact(smtp_server: Server, transports: Register
                                                 ) -> None:
    text = ".\n.. two dots\n.starts with one\nends\n."
    sent = build_message(sender="news@acme.example", to="ada@example.com", subject="Dots",
                         html="<p>.</p>", text=text, message_id=make_message_id("acme.example"),
                         unsubscribe_url=None)
    from_url(transports, smtp_server.url()).send(sent)
    [received] = smtp_server.handler.messages
    plain, _ = received.iter_parts()
    assert plain.get_content().replace("\r\n", "\n") == text + "\n"


def test_one_pooled_connection_is_reused(smtp_server: Server, transports: Register) -> None:
    transport = from_url(transports, smtp_server.url())
    for _ in range(3):
        transport.send(make_message())
    assert len(smtp_server.handler.messages) == 3
    assert len(smtp_server.handler.connections) == 1


def test_threads_share_the_connection_safely(smtp_server: Server, transports: Register) -> None:
    transport = from_url(transports, smtp_server.url())
    errors: list[BaseException] = []

    def send_five() -> None:
        try:
            for _ in range(5):
                transport.send(make_message())
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=send_five) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert len(smtp_server.handler.messages) == 20
    assert len(smtp_server.handler.connections) == 1


def test_reconnects_after_the_server_hung_up(smtp_server: Server, transports: Register) -> None:
    transport = from_url(transports, smtp_server.url())
    transport.send(make_message())
    smtp_server.drop_connections()

    transport.send(make_message())
    assert len(smtp_server.handler.messages) == 2
    assert len(smtp_server.handler.connections) == 2


def test_reconnects_after_idle_time_and_after_close(
    smtp_server: Server, transports: Register
) -> None:
    now = [0.0]
    transport = direct(transports, smtp_server, max_idle=30.0, clock=lambda: now[0])
    transport.send(make_message())
    now[0] = 10.0
    transport.send(make_message())
    assert len(smtp_server.handler.connections) == 1
    now[0] = 41.0
    transport.send(make_message())
    assert len(smtp_server.handler.connections) == 2
    transport.close()
    transport.send(make_message())
    assert len(smtp_server.handler.connections) == 3
    assert len(smtp_server.handler.messages) == 4


def test_lost_connection_after_data_is_not_resent(
    smtp_server: Server, transports: Register
) -> None:
    smtp_server.handler.drop_on_data = True
    with pytest.raises(DeliveryUnknownError, match="delivery unknown"):
        from_url(transports, smtp_server.url()).send(make_message())
    assert len(smtp_server.handler.messages) == 1


def test_4xx_is_raised_at_once_without_sleeping(
    smtp_server: Server, transports: Register
) -> None:
    """The send ledger backs the message off; the transport never holds the worker (even
    with the old retries/backoff options of MAIL_URL)."""
    smtp_server.handler.data_replies = ["451 4.3.0 Try again later"]
    sleeps: list[float] = []
    transport = direct(transports, smtp_server, retries=2, backoff=0.25, sleep=sleeps.append)

    with pytest.raises(RetryableTransportError) as caught:
        transport.send(make_message())
    assert caught.value.smtp_code == 451 and "Try again later" in str(caught.value)
    assert sleeps == [] and smtp_server.handler.messages == []
    transport.send(make_message())  # the connection stays usable for the next message
    assert len(smtp_server.handler.messages) == 1
    assert len(smtp_server.handler.connections) == 1


def test_4xx_to_rcpt_is_retryable(smtp_server: Server, transports: Register) -> None:
    smtp_server.handler.rcpt_replies = ["452 4.2.2 Mailbox full"]
    transport = direct(transports, smtp_server)

    with pytest.raises(RetryableTransportError) as caught:
        transport.send(make_message())
    assert caught.value.smtp_code == 452 and "Mailbox full" in str(caught.value)
    assert smtp_server.handler.messages == []


@pytest.mark.parametrize(
    ("stage", "reply", "code", "hard_bounce"),
    [
        ("rcpt", "550 5.1.1 <ada@example.com>: no such user", 550, True),
        ("rcpt", "553 mailbox name not allowed", 553, True),
        ("rcpt", "550 5.7.1 relaying denied", 550, False),
        ("rcpt", "553 5.1.8 sender domain does not exist", 553, False),
        ("data", "554 5.7.1 message rejected as spam", 554, False),
        ("data", "550 5.1.1 recipient unknown", 550, True),
    ],
)
def test_5xx_is_permanent_and_recipient_rejects_are_hard_bounces(
    smtp_server: Server,
    transports: Register,
    stage: str,
    reply: str,
    code: int,
    hard_bounce: bool,
) -> None:
    handler = smtp_server.handler
    (handler.rcpt_replies if stage == "rcpt" else handler.data_replies).append(reply)
    transport = from_url(transports, smtp_server.url())

    with pytest.raises(PermanentTransportError) as caught:
        transport.send(make_message())
    assert (caught.value.smtp_code, caught.value.hard_bounce) == (code, hard_bounce)
    assert reply.split(" ", 1)[1] in str(caught.value)

    transport.send(make_message())  # the connection was reset, not broken
    assert len(smtp_server.handler.messages) == 1
    assert len(smtp_server.handler.connections) == 1


def test_auth_with_url_encoded_credentials(servers: Servers, transports: Register) -> None:
    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == b"us@er"
            and auth_data.password == b"p:ss w/rd"
        )
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd replies 535

    with pytest.warns(UserWarning, match="AUTH"):  # aiosmtpd: AUTH without TLS
        server = servers.start(
            authenticator=authenticate, auth_required=True, auth_require_tls=False
        )
        from_url(transports, server.url(userinfo="us%40er:p%3Ass%20w%2Frd")).send(make_message())
        assert len(server.handler.messages) == 1

        with pytest.raises(PermanentTransportError) as wrong:
            from_url(transports, server.url(userinfo="us%40er:nope")).send(make_message())
        assert wrong.value.smtp_code == 535 and not wrong.value.hard_bounce

        with pytest.raises(PermanentTransportError) as anonymous:
            from_url(transports, server.url()).send(make_message())
        assert anonymous.value.smtp_code == 530 and not anonymous.value.hard_bounce
    assert len(server.handler.messages) == 1


def test_starttls_with_a_self_signed_certificate(
    servers: Servers, transports: Register, certificate: Certificate
) -> None:
    server = servers.start(tls_context=certificate.server_context(), require_starttls=True)

    direct(transports, server, tls="starttls", ssl_context=certificate.client_context()).send(
        make_message()
    )
    from_url(transports, server.url(query="&tls=starttls&verify=false")).send(make_message())
    assert len(server.handler.messages) == 2

    with pytest.raises(TransportError, match=r"(?i)certificate"):
        from_url(transports, server.url(query="&tls=starttls")).send(make_message())
    with pytest.raises(PermanentTransportError) as plain:
        from_url(transports, server.url()).send(make_message())
    assert plain.value.smtp_code == 530
    assert len(server.handler.messages) == 2


def test_implicit_tls(servers: Servers, transports: Register, certificate: Certificate) -> None:
    server = servers.start(ssl_context=certificate.server_context())
    direct(transports, server, tls="implicit", ssl_context=certificate.client_context()).send(
        make_message()
    )
    from_url(transports, server.url(scheme="smtps", query="&verify=false")).send(make_message())
    assert len(server.handler.messages) == 2


def test_server_down_is_retryable(transports: Register) -> None:
    url = f"smtp://127.0.0.1:{free_port()}?helo=localhost&timeout=2"
    with pytest.raises(RetryableTransportError, match="cannot connect"):
        from_url(transports, url).send(make_message())


def test_silent_server_times_out_as_retryable(transports: Register) -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"smtp://127.0.0.1:{silent.getsockname()[1]}?helo=localhost&timeout=0.3"
        with pytest.raises(RetryableTransportError):
            from_url(transports, url).send(make_message())


def test_unused_handler_is_harmless() -> None:
    assert RecordingHandler().messages == []
