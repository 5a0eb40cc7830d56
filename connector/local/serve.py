"""`connector serve`: web + worker(s) + scheduler in one command, for a laptop.

This process owns every other one: the embedded Redis server and the worker processes
die with it (PR_SET_PDEATHSIG), a worker that dies is started again (with a backoff), and
Ctrl-C / SIGTERM stops them in order: web, workers, then Redis. Production runs the same
pieces from the Procfile instead.

The database: a SQLite file (the embedded default, or a `DATABASE_URL` naming one) is a
laptop database that serve owns, so serve migrates it. A server database (PostgreSQL) is
shared with whatever else runs on it; its migrations are the release phase's job
(`connector db upgrade`), so serve only checks it and refuses one behind, in one line.
"""

from __future__ import annotations

import logging
import sys
import threading
from contextlib import ExitStack

from connector.app import create_app
from connector.local.processes import Supervisor, install_shutdown_handlers
from connector.local.redis_embedded import EmbeddedRedis
from connector.local.webserver import WebServer
from connector.migrate import check_schema, upgrade
from connector.runtime import build_runtime
from connector.settings import Settings, child_environment

log = logging.getLogger(__name__)


def prepare_database(url: str) -> None:
    """Migrate a SQLite database; check any other (SchemaBehindError when it is behind)."""
    if url.startswith("sqlite:"):
        upgrade(url)
    else:
        check_schema(url)


def run_serve(settings: Settings, *, host: str = "127.0.0.1", workers: int = 1) -> int:
    """Raises SchemaBehindError, before starting anything, for a server database behind."""
    prepare_database(settings.sqlalchemy_url)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stopping = threading.Event()
    install_shutdown_handlers(lambda _signum: stopping.set())
    with ExitStack() as stack:
        redis_url = settings.redis_url
        if not redis_url:
            embedded = stack.enter_context(EmbeddedRedis(settings.var_dir / "redis"))
            redis_url = embedded.url
            log.info("embedded Redis at %s", redis_url)
        server = WebServer(host, settings.port, quiet=False)
        stack.callback(server.stop)
        supervisor = stack.enter_context(Supervisor())
        env = child_environment(REDIS_URL=redis_url, PUBLIC_BASE_URL=settings.base_url)
        for n in range(workers):
            # One ticker is enough: the Redis tick lock makes the others idle anyway.
            argv = [sys.executable, "-m", "connector", "worker"]
            # Own process group: a terminal Ctrl-C must not reach the workers twice (rq
            # reads a second signal as a cold shutdown); the supervisor stops them.
            supervisor.start(
                f"worker-{n + 1}",
                argv if n == 0 else [*argv, "--no-ticker"],
                env=env,
                new_process_group=True,
                restart=True,  # a worker that died is started again, never the end of serve
            )
        runtime = build_runtime(settings, redis_url=redis_url)
        stack.callback(runtime.close)
        server.start(create_app(runtime))
        log.info("serving on %s (Ctrl-C stops everything)", server.base_url)
        while not stopping.wait(0.1):
            exited = supervisor.supervise()
            if exited is not None:  # not reached today: every child restarts
                log.error("%s exited (code %s); stopping", exited, supervisor.returncodes()[exited])
                return 1
        log.info("stopping")
    return 0
