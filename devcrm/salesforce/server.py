"""SalesforceEmulator: the emulation served over a threaded HTTP server on 127.0.0.1. Its
Python API (add_org, issue_code, revoke, expire_tokens, outbound, drain, faults, requests)
is in core.Emulation; an org's data and actions are in state.Org."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from devcrm.salesforce.app import create_app
from devcrm.salesforce.core import Emulation
from devcrm.salesforce.outbound import DEFAULT_SCHEDULE


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr (the request log is `emu.requests`)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class SalesforceEmulator(Emulation):
    """A local Salesforce (one connected app, any number of orgs) over real HTTP; port 0
    picks a free port. Also a context manager (start on enter, stop on exit)."""

    def __init__(self, client_id: str = "devcrm-consumer-key",
                 client_secret: str = "devcrm-consumer-secret", *, api_limit: int = 15_000,
                 token_lifetime: float = 7200, query_batch: int = 2000,
                 outbound_schedule: tuple[float, ...] = DEFAULT_SCHEDULE,
                 host: str = "127.0.0.1", port: int = 0,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(client_id, client_secret, api_limit=api_limit,
                         token_lifetime=token_lifetime, query_batch=query_batch,
                         outbound_schedule=outbound_schedule, clock=clock)
        self.host, self.port = host, port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.app = create_app(self)

    def start(self) -> SalesforceEmulator:
        self._server = make_server(self.host, self.port, self.app, threaded=True,
                                   request_handler=_QuietHandler)
        self.port = self._server.server_port
        self.outbound_sender.base_url = self.url
        server = self._server
        self._thread = threading.Thread(target=lambda: server.serve_forever(poll_interval=0.05),
                                        name="salesforce-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.outbound_sender.stop()

    def __enter__(self) -> SalesforceEmulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"
