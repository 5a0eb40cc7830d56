"""The real Flask app on a loopback port, in a thread (the demo and `connector serve`;
production uses gunicorn from the Procfile)."""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class WebServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True) -> None:
        self._app: Any = None
        handler = _QuietHandler if quiet else WSGIRequestHandler
        self._server = make_server(
            host, port, self._dispatch, threaded=True, request_handler=handler
        )
        self.port = self._server.server_port
        self.base_url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _dispatch(self, environ: Any, start_response: Any) -> Any:
        return self._app(environ, start_response)

    def start(self, app: Any) -> None:
        """The app is given after the port is known, so its public URL can name the port."""
        self._app = app
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
