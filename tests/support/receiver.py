"""A local HTTP server that records what outbound webhook steps POST to it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest


class Receiver(BaseHTTPRequestHandler):
    status: ClassVar[int] = 204  # what the receiver answers
    hold: ClassVar[float] = 0.0  # seconds it takes to answer (a slow receiver)
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    reply: ClassVar[bytes] = b""  # the answer's body (e.g. a SOAP Ack)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers), body))
        time.sleep(Receiver.hold)
        self.send_response(Receiver.status)
        if Receiver.reply:
            self.send_header("Content-Type", "text/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(Receiver.reply)))
        self.end_headers()
        if Receiver.reply:
            self.wfile.write(Receiver.reply)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.received = []
    Receiver.status, Receiver.hold, Receiver.reply = 204, 0.0, b""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()
