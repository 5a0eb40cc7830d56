"""The MJML templates we ship render with the context the engine passes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connector.email.links import track_links
from connector.email.templates import TemplateStore

TEMPLATES = Path(__file__).resolve().parents[4] / "templates"
SHIPPED = ["first-offer", "getting-started", "order-survey", "order-thanks", "welcome"]
UNSUBSCRIBE = "https://mail.example.com/u/tok3n?sig=a&v=1"


def context(event: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "contact": {"email": "ada@example.com", "crm_id": "101", "firstname": "Ada"},
        "event": event,
        "unsubscribe_url": UNSUBSCRIBE,
        "preferences_url": "https://mail.example.com/p/tok3n",
        "company": {"name": "Acme Mugs", "address": "1 Main St, Springfield"},
    }


ORDER = {
    "name": "order_placed",
    "order_id": "A-1001",
    "total": "$42.00",
    "items": [
        {
            "name": "Classic Mug",
            "price": "$12.00",
            "quantity": 2,
            "url": "https://example.com/products/classic-mug",
            "image_url": "https://example.com/img/mug.png",
        },
        {"name": "Tea <Sampler>", "price": "$18.00", "quantity": 1, "url": ""},
    ],
}


@pytest.fixture(scope="module")
def store() -> TemplateStore:
    return TemplateStore(TEMPLATES)


def test_names_are_the_shipped_templates(store: TemplateStore) -> None:
    assert store.names() == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("event", [None, ORDER], ids=["no-event", "order-event"])
def test_every_template_renders(
    store: TemplateStore, name: str, event: dict[str, Any] | None
) -> None:
    rendered = store.render(name, context(event))

    assert rendered.subject and "\n" not in rendered.subject
    assert rendered.html.startswith("<!doctype html>")
    escaped = UNSUBSCRIBE.replace("&", "&amp;")
    assert f'href="{escaped}" data-notrack' in rendered.html
    assert "Acme Mugs" in rendered.text and "1 Main St, Springfield" in rendered.text
    assert f"Unsubscribe ({UNSUBSCRIBE})" in rendered.text
    tracked_html, originals = track_links(rendered.html, lambda i, url: f"https://t.example/{i}")
    assert UNSUBSCRIBE not in originals and escaped in tracked_html
    assert all(url.startswith("https://example.com/") for url in originals)


def test_welcome_greets_by_name_or_generically(store: TemplateStore) -> None:
    assert store.render("welcome", context(None)).subject == "Welcome, Ada"
    anonymous = context(None)
    anonymous["contact"] = {"email": "x@example.com", "crm_id": "7", "firstname": None}
    assert store.render("welcome", anonymous).subject == "Welcome, there"


def test_order_thanks_lists_items_and_total(store: TemplateStore) -> None:
    rendered = store.render("order-thanks", context(ORDER))

    assert rendered.subject == "Thanks for your order A-1001"
    assert "Tea &lt;Sampler&gt;" in rendered.html
    assert "Classic Mug (https://example.com/products/classic-mug) 2 $12.00" in rendered.text
    assert "Tea <Sampler> 1 $18.00" in rendered.text
    assert "Total $42.00" in rendered.text


def test_links_point_where_promised(store: TemplateStore) -> None:
    def links(name: str) -> list[str]:
        return track_links(store.render(name, context(ORDER)).html, lambda i, u: u)[1]

    assert "https://example.com/guide" in links("getting-started")
    assert any(u.startswith("https://example.com/products/") for u in links("first-offer"))
    assert "https://example.com/survey?order=A-1001" in links("order-survey")
