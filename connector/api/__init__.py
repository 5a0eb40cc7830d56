"""The /v1/ admin API and its OpenAPI 3.1 document (GET /v1/openapi.json)."""

from __future__ import annotations

from flask import Flask
from spectree import Response

from connector.api.schemas import ErrorOut, EventAcceptedOut, ValidationErrorOut
from connector.api.spec import spec
from webhooks.events import EventIn

EVENTS_ENDPOINT = "events.post_event"


def init_app(app: Flask) -> None:
    """Register the admin API and describe POST /v1/events in the same document."""
    from connector.api.campaigns import bp as campaigns_bp
    from connector.api.views import bp

    app.register_blueprint(bp)
    app.register_blueprint(campaigns_bp)
    view = app.view_functions.get(EVENTS_ENDPOINT)
    if view is not None:
        # Documented only: the view keeps validating its own body (skip_validation).
        app.view_functions[EVENTS_ENDPOINT] = spec.validate(
            json=EventIn,
            resp=Response(
                HTTP_202=EventAcceptedOut,
                HTTP_400=ErrorOut,
                HTTP_401=ErrorOut,
                HTTP_413=ErrorOut,
                HTTP_422=ValidationErrorOut,
            ),
            tags=["events"],
            skip_validation=True,
        )(view)
