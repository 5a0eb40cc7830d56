"""The baseline for `bench/ingest.py`: a bare Flask app doing the least an ingest endpoint can.

It reads the JSON body and answers 202 with the same small JSON body as the real
`POST /v1/events`, so the two differ only in the work the real app does (auth, validation,
persist, enqueue), not in the framework or the server.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request


def bare_app(name: str) -> Flask:
    """A Flask app with only the `/healthz` the bench polls until gunicorn is up."""
    app = Flask(name)

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify({"status": "ok"})

    return app


def create_app() -> Flask:
    app = bare_app(__name__)

    @app.post("/v1/events")
    def post_event() -> Any:
        request.get_json(force=True)
        return jsonify({"status": "accepted", "duplicate": False}), 202

    return app
