"""Email: templates, link tracking, MIME building and transports."""

from __future__ import annotations

from connector.email.errors import (
    PermanentTransportError,
    RetryableTransportError,
    TemplateError,
    TransportError,
)
from connector.email.links import add_open_pixel, track_links
from connector.email.mime import build_message, make_message_id
from connector.email.templates import RenderedEmail, TemplateStore
from connector.email.text import html_to_text
from connector.email.transports import Transport, transport_from_url

__all__ = [
    "PermanentTransportError",
    "RenderedEmail",
    "RetryableTransportError",
    "TemplateError",
    "TemplateStore",
    "Transport",
    "TransportError",
    "add_open_pixel",
    "build_message",
    "html_to_text",
    "make_message_id",
    "track_links",
    "transport_from_url",
]
