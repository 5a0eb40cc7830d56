"""The Flask app factory: nothing is built at import time."""

from __future__ import annotations

from flask import Flask

from connector.runtime import Runtime, build_runtime
from connector.settings import Settings, load_settings


def create_app(runtime: Runtime | None = None, settings: Settings | None = None) -> Flask:
    if runtime is None:
        runtime = build_runtime(settings or load_settings())
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = runtime.settings.max_event_bytes
    app.config["SECRET_KEY"] = runtime.settings.secret_key
    app.extensions["runtime"] = runtime

    from connector import health
    from webhooks import events, tracking
    from webhooks.http import install_json_errors

    for blueprint in (health.bp, events.bp, tracking.bp):
        app.register_blueprint(blueprint)
    install_json_errors(app)
    from connector import api

    api.init_app(app)
    return app
