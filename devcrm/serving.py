"""Serving an emulator's WSGI app on a threaded HTTP server in the background: start, stop,
its URL, and a context manager. Each emulator sets `host`, `port` (0: a free one) and `app`,
and says what else starts and stops with it."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any, Self

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr (each emulator keeps its own request log)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class Served:
    host: str
    port: int
    app: Any
    thread_name = "devcrm-emulator"
    _server: BaseWSGIServer | None = None

    def start(self) -> Self:
        self._server = server = make_server(self.host, self.port, self.app, threaded=True,
                                            request_handler=_QuietHandler)
        self.port = server.server_port
        self._started()
        threading.Thread(target=lambda: server.serve_forever(poll_interval=0.05),
                         name=self.thread_name, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._stopped()

    def _started(self) -> None:
        """The port is known (before the first request is served)."""

    def _stopped(self) -> None:
        """The server is down: stop what sends on the emulator's behalf."""

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
