"""The Flask app factory: nothing is built at import time."""

from __future__ import annotations

from flask import Flask

from connector.migrate import check_schema
from connector.runtime import Runtime, build_runtime
from connector.settings import Settings, load_settings

# Database URLs this process found at the latest migration. The schema only moves forward
# under a running process, so one check per URL is enough; tests build an app per test.
_AT_HEAD: set[str] = set()


def create_app(runtime: Runtime | None = None, settings: Settings | None = None) -> Flask:
    """The web app. Refuses to start (SchemaBehindError: "... run `connector db upgrade`")
    on a database behind the latest migration, as `connector worker` does: gunicorn
    imports `connector.app:create_app()`, and the Procfile's release phase migrates."""
    settings = runtime.settings if runtime is not None else settings or load_settings()
    _require_latest_schema(settings.sqlalchemy_url)
    if runtime is None:
        runtime = build_runtime(settings)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = runtime.settings.max_event_bytes
    app.config["SECRET_KEY"] = runtime.settings.secret_key
    app.extensions["runtime"] = runtime

    from connector import health
    from webhooks import events, hubspot, oauth, salesforce, tracking
    from webhooks.http import install_json_errors

    for blueprint in (health.bp, events.bp, tracking.bp, oauth.bp, hubspot.bp, salesforce.bp):
        app.register_blueprint(blueprint)
    install_json_errors(app)
    from connector import api

    api.init_app(app)
    return app


def _require_latest_schema(url: str) -> None:
    if url not in _AT_HEAD:
        check_schema(url)  # opens no pool of its own that outlives the check
        _AT_HEAD.add(url)
