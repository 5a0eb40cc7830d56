"""The MJML templates we ship render with the context the engine passes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connector.email.links import track_links
from connector.email.templates import RenderedEmail, TemplateStore

TEMPLATES = Path(__file__).resolve().parents[4] / "templates"
UNSUBSCRIBE = "https://mail.example.com/u/tok3n?sig=a&v=1"
PREFERENCES = "https://mail.example.com/p/tok3n"


def context(event: dict[str, Any] | None, **contact: Any) -> dict[str, Any]:
    return {
        "contact": {"email": "ada@example.com", "crm_id": "101", "firstname": "Ada", **contact},
        "event": event,
        "unsubscribe_url": UNSUBSCRIBE,
        "preferences_url": PREFERENCES,
        "company": {"name": "Acme Mugs", "address": "1 Main St, Springfield"},
    }


# Events as the engine passes them: {"name": kind, **properties}.
ORDER: dict[str, Any] = {
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
ORDER_COMPLETED: dict[str, Any] = {
    "name": "order.completed",
    "order_id": "A-2002",
    "total": 58.5,
    "currency": "USD",
    "items": [
        {
            "name": "Linen Notebook",
            "quantity": 1,
            "price": 16.0,
            "url": "https://example.com/products/linen-notebook",
            "image_url": "https://example.com/img/notebook.png",
        },
        {
            "name": "Stoneware Teapot",
            "quantity": 1,
            "price": 42.5,
            "url": "https://example.com/products/stoneware-teapot",
        },
    ],
}
ORDER_SHIPPED: dict[str, Any] = {
    "name": "order.shipped",
    "order_id": "A-2002",
    "carrier": "UPS",
    "tracking_url": "https://example.com/track/1Z999AA10123456784",
}
ORDER_DELIVERED: dict[str, Any] = {"name": "order.delivered", "order_id": "A-2002"}
PRODUCT_VIEWED: dict[str, Any] = {
    "name": "product.viewed",
    "currency": "USD",
    "product": {
        "name": "Stoneware Teapot",
        "url": "https://example.com/products/stoneware-teapot",
        "price": 42.5,
        "image_url": "https://example.com/img/teapot.png",
    },
}
CART_UPDATED: dict[str, Any] = {
    "name": "cart.updated",
    "cart_url": "https://example.com/cart/c-77?restore=1&src=email",
    "total": 40.0,
    "currency": "USD",
    "items": [
        {
            "name": "Classic Mug",
            "quantity": 2,
            "price": 12.0,
            "url": "https://example.com/products/classic-mug",
            "image_url": "https://example.com/img/mug.png",
        },
        {"name": "Tea <Sampler>", "quantity": 1, "price": 16.0, "url": ""},
    ],
}

# Every shipped template, with the events it is enrolled by. Every one also renders with
# event None: a template must never fail a message because the event is missing.
SCENARIOS: dict[str, list[dict[str, Any]]] = {
    "first-offer": [ORDER],
    "getting-started": [ORDER],
    "order-survey": [ORDER],
    "order-thanks": [ORDER],
    "welcome": [ORDER],
    # post-purchase
    "order-shipped": [ORDER_SHIPPED, ORDER_COMPLETED],
    "review-request": [ORDER_COMPLETED, ORDER_DELIVERED],
    "referral-offer": [ORDER_COMPLETED],
    "purchase-anniversary": [ORDER_COMPLETED],
    # browse abandonment
    "browse-who-we-are": [PRODUCT_VIEWED],
    "browse-bestsellers": [PRODUCT_VIEWED],
    "browse-offer": [PRODUCT_VIEWED],
    "browse-offer-expiring": [PRODUCT_VIEWED],
    # cart abandonment
    "cart-reminder": [CART_UPDATED],
    "cart-last-call": [CART_UPDATED],
    # no event: win-back, clicked follow-up, contact-date anniversary
    "winback-offer": [],
    "product-spotlight": [],
    "product-details": [],
    "customer-anniversary": [],
    # campaigns (no event): campaigns/spring-sale.yaml, campaigns/weekend-ab.yaml
    "seasonal-sale": [],
}
SHIPPED = sorted(SCENARIOS)
# The first five predate the seed scenarios; the stricter checks below are for the rest.
ORIGINAL = {"first-offer", "getting-started", "order-survey", "order-thanks", "welcome"}
# An event with none of the properties a template looks for (note that `event.items`
# is then dict.items, not undefined: templates must look the key up).
BARE_EVENT: dict[str, Any] = {"name": "contact.updated"}
# order-thanks loops over `event.items` directly, so an event without items fails it.
KNOWN_FAILURES: dict[tuple[str, str], str] = {}
RENDER_CASES = [
    pytest.param(
        name,
        event,
        id=f"{name}-{key}",
        marks=[pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[(name, key)])]
        if (name, key) in KNOWN_FAILURES
        else [],
    )
    for name, events in SCENARIOS.items()
    for event in [None, *events, BARE_EVENT]
    for key in [event["name"] if event else "no-event"]
]
NEW_RENDER_CASES = [case for case in RENDER_CASES if case.values[0] not in ORIGINAL]


@pytest.fixture(scope="module")
def store() -> TemplateStore:
    return TemplateStore.from_directory(TEMPLATES)


def links(rendered: RenderedEmail) -> list[str]:
    """The tracked (http(s), not data-notrack) links, in document order."""
    return track_links(rendered.html, lambda i, url: url)[1]


def test_names_are_the_shipped_templates(store: TemplateStore) -> None:
    assert store.names() == SHIPPED


@pytest.mark.parametrize(("name", "event"), RENDER_CASES)
def test_every_template_renders(
    store: TemplateStore, name: str, event: dict[str, Any] | None
) -> None:
    rendered = store.render(name, context(event))

    assert rendered.subject and "\n" not in rendered.subject
    assert rendered.html.startswith("<!doctype html>")
    assert rendered.text.strip()
    for part in (rendered.subject, rendered.text):
        assert "None" not in part and "Undefined" not in part and "method" not in part
    escaped = UNSUBSCRIBE.replace("&", "&amp;")
    assert f'href="{escaped}" data-notrack' in rendered.html
    assert "Acme Mugs" in rendered.text and "1 Main St, Springfield" in rendered.text
    assert f"Unsubscribe ({UNSUBSCRIBE})" in rendered.text
    tracked_html, originals = track_links(rendered.html, lambda i, url: f"https://t.example/{i}")
    assert UNSUBSCRIBE not in originals and escaped in tracked_html
    assert originals or name in ORIGINAL, "every email has at least one call to action"
    assert all(url.startswith("https://example.com/") for url in originals)


@pytest.mark.parametrize(("name", "event"), NEW_RENDER_CASES)
def test_every_template_copes_without_a_first_name(
    store: TemplateStore, name: str, event: dict[str, Any] | None
) -> None:
    # (The original templates greet with "there" instead; see the welcome test.)
    rendered = store.render(name, context(event, firstname=None))

    for part in (rendered.subject, rendered.text):
        assert "Ada" not in part and "None" not in part
        assert ", there!" not in part and ", there?" not in part and ", there:" not in part


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
    def links_of(name: str) -> list[str]:
        return links(store.render(name, context(ORDER)))

    assert "https://example.com/guide" in links_of("getting-started")
    assert any(u.startswith("https://example.com/products/") for u in links_of("first-offer"))
    assert "https://example.com/survey?order=A-1001" in links_of("order-survey")


# --- post-purchase -------------------------------------------------------------------


def test_order_shipped_with_the_shipping_event(store: TemplateStore) -> None:
    rendered = store.render("order-shipped", context(ORDER_SHIPPED))

    assert rendered.subject == "Your order A-2002 is on its way"
    assert "is travelling with UPS" in rendered.text
    assert "In this shipment" not in rendered.text  # the shipping event has no items
    assert "Track your package (https://example.com/track/1Z999AA10123456784)" in rendered.text
    assert links(rendered)[0] == ORDER_SHIPPED["tracking_url"]


def test_order_shipped_with_the_order_event_lists_items_without_tracking(
    store: TemplateStore,
) -> None:
    rendered = store.render("order-shipped", context(ORDER_COMPLETED))

    assert rendered.subject == "Your order A-2002 is on its way"
    assert "Track your package" not in rendered.text
    assert "https://example.com/account/orders" in links(rendered)
    assert "Linen Notebook (https://example.com/products/linen-notebook)" in rendered.text
    assert "Qty 1 $42.50" in rendered.text
    assert 'src="https://example.com/img/notebook.png"' in rendered.html


def test_order_shipped_without_an_event(store: TemplateStore) -> None:
    assert store.render("order-shipped", context(None)).subject == "Your order is on its way"


def test_review_request_links_every_item(store: TemplateStore) -> None:
    rendered = store.render("review-request", context(ORDER))

    assert "A-1001" in rendered.text
    assert "Classic Mug" in rendered.text and "Tea &lt;Sampler&gt;" in rendered.html
    assert "Write a review (https://example.com/products/classic-mug)" in rendered.text
    # An item without a url still gets somewhere to review it.
    assert "https://example.com/account/orders" in links(rendered)
    completed = store.render("review-request", context(ORDER_COMPLETED))
    assert [u for u in links(completed) if "/products/" in u] == [
        "https://example.com/products/linen-notebook",
        "https://example.com/products/stoneware-teapot",
    ]


def test_review_request_subject_names_a_single_item(store: TemplateStore) -> None:
    one_item = dict(ORDER_COMPLETED, items=ORDER_COMPLETED["items"][:1])
    assert store.render("review-request", context(one_item)).subject == (
        "How do you like your Linen Notebook, Ada?"
    )
    assert store.render("review-request", context(ORDER_COMPLETED)).subject == (
        "How are you liking your order, Ada?"
    )
    assert store.render("review-request", context(None, firstname="")).subject == (
        "How are you liking your order?"
    )


def test_referral_offer_has_a_personal_link(store: TemplateStore) -> None:
    rendered = store.render("referral-offer", context(ORDER_COMPLETED))

    assert "15%" in rendered.subject
    assert links(rendered) == ["https://example.com/refer?ref=101"] * 2
    coded = store.render("referral-offer", context(None, referral_code="ADA&FRIENDS"))
    assert "https://example.com/refer?ref=ADA%26FRIENDS" in links(coded)


def test_purchase_anniversary_has_a_code(store: TemplateStore) -> None:
    rendered = store.render("purchase-anniversary", context(ORDER_COMPLETED))

    assert "YEARONE20" in rendered.text
    assert "order A-2002, starting with the Linen Notebook" in rendered.text
    assert rendered.subject == "Ada, it's been a year: a thank-you gift for you"


# --- browse abandonment --------------------------------------------------------------


def test_browse_who_we_are_links_back_to_the_product(store: TemplateStore) -> None:
    rendered = store.render("browse-who-we-are", context(PRODUCT_VIEWED))

    assert "Stoneware Teapot" in rendered.text
    assert "https://example.com/products/stoneware-teapot" in links(rendered)
    generic = store.render("browse-who-we-are", context(None))
    assert "https://example.com/shop" in links(generic)
    assert "Teapot" not in generic.text


def test_browse_bestsellers_shows_three_rated_products(store: TemplateStore) -> None:
    rendered = store.render("browse-bestsellers", context(PRODUCT_VIEWED))

    for product in ("Classic Mug", "Linen Notebook", "Tea Sampler"):
        assert product in rendered.text
    assert rendered.text.count("verified buyer") == 3
    assert "★★★★★ 5/5" in rendered.text and "★★★★☆ 4/5" in rendered.text
    assert links(rendered)[-1] == "https://example.com/products/stoneware-teapot"


@pytest.mark.parametrize("name", ["browse-offer", "browse-offer-expiring"])
def test_browse_offers_give_the_code_for_the_product(store: TemplateStore, name: str) -> None:
    rendered = store.render(name, context(PRODUCT_VIEWED))

    assert "BROWSE10" in rendered.text
    assert "Stoneware Teapot" in rendered.text and "$42.50" in rendered.text
    assert 'src="https://example.com/img/teapot.png"' in rendered.html
    assert set(links(rendered)) == {"https://example.com/products/stoneware-teapot"}
    assert set(links(store.render(name, context(None)))) == {"https://example.com/shop"}


def test_browse_offer_subjects(store: TemplateStore) -> None:
    assert store.render("browse-offer", context(PRODUCT_VIEWED)).subject == (
        "10% off the Stoneware Teapot, just for you"
    )
    assert store.render("browse-offer", context(None)).subject == "10% off, just for you"
    assert "tomorrow" in store.render("browse-offer-expiring", context(None)).subject


# --- cart abandonment ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["cart-reminder", "cart-last-call"])
def test_cart_emails_list_the_cart_and_link_to_it(store: TemplateStore, name: str) -> None:
    rendered = store.render(name, context(CART_UPDATED))

    assert "Classic Mug (https://example.com/products/classic-mug)\nQty 2 $12.00" in rendered.text
    assert "Tea <Sampler>\nQty 1 $16.00" in rendered.text
    assert "Tea &lt;Sampler&gt;" in rendered.html
    assert "Subtotal $40.00" in rendered.text
    assert 'src="https://example.com/img/mug.png"' in rendered.html
    assert f"Complete your order ({CART_UPDATED['cart_url']})" in rendered.text
    assert CART_UPDATED["cart_url"] in links(rendered)


@pytest.mark.parametrize("name", ["cart-reminder", "cart-last-call"])
def test_cart_emails_fall_back_to_the_cart_page(store: TemplateStore, name: str) -> None:
    without_url = {k: v for k, v in CART_UPDATED.items() if k != "cart_url"}
    for event in (None, without_url):
        rendered = store.render(name, context(event))
        assert "Complete your order (https://example.com/cart)" in rendered.text


def test_cart_reminder_suggests_two_products(store: TemplateStore) -> None:
    rendered = store.render("cart-reminder", context(CART_UPDATED))

    assert rendered.subject == "You left something in your cart"
    assert "You might also like" in rendered.text
    suggested = [u for u in links(rendered) if u.startswith("https://example.com/products/")]
    assert suggested[1:] == [
        "https://example.com/products/stoneware-coasters",
        "https://example.com/products/tea-infuser",
    ]


def test_cart_last_call_offers_free_shipping_today(store: TemplateStore) -> None:
    rendered = store.render("cart-last-call", context(CART_UPDATED))

    assert "free shipping" in rendered.subject.lower() and "today" in rendered.subject
    assert "FREESHIP" in rendered.text


# --- no-event scenarios --------------------------------------------------------------


def test_winback_offer(store: TemplateStore) -> None:
    rendered = store.render("winback-offer", context(None))

    assert rendered.subject == "We miss you, Ada: here's 20% off"
    assert "COMEBACK20" in rendered.text
    assert f'href="{PREFERENCES}" data-notrack' in rendered.html


def test_product_spotlight_features_the_notebook(store: TemplateStore) -> None:
    rendered = store.render("product-spotlight", context(None))

    assert "Linen Notebook" in rendered.subject
    assert set(links(rendered)) == {"https://example.com/products/linen-notebook"}
    assert (
        "Discover the Linen Notebook (https://example.com/products/linen-notebook)" in rendered.text
    )


def test_product_details_has_specs_reviews_and_a_buy_button(store: TemplateStore) -> None:
    rendered = store.render("product-details", context(None))

    assert "Pages 192 pages, dot grid" in rendered.text
    assert rendered.text.count("verified buyer") == 2
    assert (
        "Buy the Linen Notebook (https://example.com/cart/add?product=linen-notebook)"
        in rendered.text
    )


def test_customer_anniversary_shows_the_customer_since_date(store: TemplateStore) -> None:
    rendered = store.render("customer-anniversary", context(None, customer_since="2021-03-14"))

    assert rendered.subject == "Happy anniversary, Ada! A gift from all of us"
    assert "Part of the Acme Mugs family since 2021-03-14" in rendered.text
    assert "THANKYOU25" in rendered.text
    timestamp = context(None, customer_since="2021-03-14T09:30:00Z")
    assert "since 2021-03-14\n" in store.render("customer-anniversary", timestamp).text
    assert "family since" not in store.render("customer-anniversary", context(None)).text


# --- shared building blocks ----------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "shown"),
    [("USD", "$12.00"), ("eur", "€12.00"), ("CHF", "12.00 CHF"), (None, "12.00")],
)
def test_numeric_prices_are_formatted_with_the_currency(
    store: TemplateStore, currency: str | None, shown: str
) -> None:
    event = dict(CART_UPDATED, currency=currency)
    assert f"Qty 2 {shown}" in store.render("cart-reminder", context(event)).text
