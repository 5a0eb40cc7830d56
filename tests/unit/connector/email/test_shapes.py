"""Shapes (email/shapes.py): an email compiled once per shape is the email compiled for
each recipient, byte for byte, for the shipped templates and for templates built to trip
it; what cannot be shaped is compiled per recipient."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connector.email.shapes import MARK
from connector.email.templates import TemplateStore, TrackedEmail, read_template_files
from connector.workspaces.build import SAMPLE_CONTEXT

REPO_TEMPLATES = Path(__file__).parents[4] / "templates"
UTM = {"source": "drip", "campaign": "spring sale"}
# Names also go into attributes (the layout's title is the body's aria-label too), where
# MJML writes control and invisible characters as Rust escapes: those are in NOTES, which
# only text shows (see test_a_value_in_an_attribute_is_sent_as_it_is).
NAMES = ["Ada", "", " Bo", "O'Brien & <Co>", "Zoë", "https://x.example/", "Ünïcode ☕"]
NOTES = ["Line\nbreak", "zero\u200bwidth", "\u00a0nbsp", "tab\there  and  spaces", "",
         "\u200b"]
SITES = ["https://a.example/x?y=1&z=2", "mailto:q@r.example", "#top", "ftp://x.example",
         "HTTP://LOUD.example", "javascript:void(0)", "https://a.example/x#frag"]


def contact_context(n: int) -> dict[str, Any]:
    context = dict(SAMPLE_CONTEXT)
    orders = [{"name": f"Item {k} & co", "quantity": 1 + k % 2, "price": 9.5 + k,
               "url": f"https://shop.example/p/{k}?ref={n}"} for k in range(n % 4)]
    context["contact"] = {**context["contact"], "firstname": NAMES[n % len(NAMES)],
                          "website": SITES[n % len(SITES)], "orders": orders,
                          "note": NOTES[n % len(NOTES)],
                          "width": ["50%", "300px", "wide"][n % 3],
                          "display": ["none", "block"][n % 2]}
    context["unsubscribe_url"] = f"https://app.example/u/token{n}"
    return context


def send_render(store: TemplateStore, name: str, n: int) -> TrackedEmail | str:
    try:
        return store.render_tracked(
            name, contact_context(n), utm=UTM, pixel=f"https://app.example/t/o/{n}",
            click=lambda index, url: f"https://app.example/t/c/{n}-{index}?u={len(url)}")
    except Exception as exc:  # the same error both ways is the same outcome
        return f"{type(exc).__name__}: {exc}"


def assert_same_as_per_recipient(files: dict[str, str], name: str, count: int = 14
                                 ) -> TemplateStore:
    shaped, reference = TemplateStore(files), TemplateStore(files, shapes=False)
    for n in range(count):
        fast, slow = send_render(shaped, name, n), send_render(reference, name, n)
        assert fast == slow, f"recipient {n} of {name}"
        assert MARK not in str(fast)
    return shaped


@pytest.mark.parametrize("name", TemplateStore(read_template_files(REPO_TEMPLATES)).names())
def test_every_shipped_template_is_the_same_shaped(name: str) -> None:
    store = assert_same_as_per_recipient(read_template_files(REPO_TEMPLATES), name)
    assert 0 < store.shapes_kept <= 14


LAYOUT = """<mjml><mj-head><mj-title>{{ contact.firstname }}</mj-title></mj-head><mj-body>
{% block content %}{% endblock %}
<mj-section><mj-column><mj-text><a href="{{ unsubscribe_url }}" data-notrack>Unsubscribe</a>
</mj-text></mj-column></mj-section></mj-body></mjml>"""
MACROS = """{% macro shout(text) %}{{ text | upper }}{% endmacro %}
{% macro card(title) %}<mj-text>{{ title }}</mj-text>{% endmacro %}"""


def files_with(body: str, text: str | None = None) -> dict[str, str]:
    files = {"_layouts/base.mjml": LAYOUT, "_partials/m.mjml": MACROS,
             "t/subject.txt": "Hi {{ contact.firstname }}",
             "t/body.mjml": '{% extends "_layouts/base.mjml" %}{% import "_partials/m.mjml" '
                            'as m %}{% block content %}<mj-section><mj-column>'
                            f"{body}</mj-column></mj-section>{{% endblock %}}"}
    if text is not None:
        files["t/body.txt"] = text
    return files


TRICKY = {
    "links from values": '<mj-text><a href="{{ contact.website }}">{{ contact.website }}</a>'
                         ' <a href="{{ contact.website }}">Visit</a> <a href="https://s.example'
                         '/{{ contact.firstname }}">{{ contact.firstname }}</a></mj-text>',
    "a button to a value": '<mj-button href="{{ contact.website }}">Go</mj-button>',
    "items": '{% for o in contact.orders %}<mj-text><a href="{{ o.url }}">{{ o.name }}</a>'
             "</mj-text>{% endfor %}",
    "filter block": "<mj-text>{% filter upper %}Hi {{ contact.firstname }}{% endfilter %}"
                    "</mj-text>",
    "set block": "{% set greeting %}Hi {{ contact.firstname }}{% endset %}"
                 "<mj-text>{{ greeting | lower }}</mj-text>",
    "filter on a macro": "{{ m.card(contact.firstname) | replace('A', 'a') }}",
    "filter inside a macro": "<mj-text>{{ m.shout(m.shout(contact.firstname)) }}</mj-text>",
    "a value MJML parses": '<mj-text padding="{{ contact.width }}">{{ contact.firstname }}'
                           "</mj-text>",
    "a value that hides": '<mj-text><div style="display:{{ contact.display }}">Secret'
                          "</div></mj-text>",
    "a value as a role": '<mj-raw><table role="{{ contact.display }}"><tr><td>a</td></tr>'
                         "<tr><td>b</td></tr></table></mj-raw>",
    "a value as an attribute name": "<mj-raw><a {{ contact.display }} "
                                    'href="https://x.example">x</a></mj-raw>',
    "markup values": "<mj-text>{{ contact.firstname | e }} {{ contact.firstname | safe }}"
                     "</mj-text>",
    "numbers and none": "<mj-text>{{ contact.orders | length }} {{ none }} "
                        "{{ contact.orders }} {{ 3.5 * 2 }}</mj-text>",
    "whitespace in text": "<mj-text>{{ contact.note }}</mj-text><mj-text>Hi {{ contact.note }}!"
                          "</mj-text>",
    "no autoescape": "<mj-text>{% autoescape false %}{{ contact.firstname }}"
                     "{% endautoescape %}</mj-text>",
}


@pytest.mark.parametrize("body", TRICKY.values(), ids=TRICKY.keys())
def test_templates_built_to_trip_shapes_send_what_they_would_unshaped(body: str) -> None:
    assert_same_as_per_recipient(files_with(body), "t")


def test_a_text_template_is_the_text_part() -> None:
    store = assert_same_as_per_recipient(
        files_with("<mj-text>{{ contact.firstname }}</mj-text>",
                   text="Plain {{ contact.firstname }} <{{ unsubscribe_url }}>"), "t")
    sent = store.render_tracked("t", contact_context(0), click=lambda i, u: u, pixel="p")
    assert sent.text == "Plain Ada <https://app.example/u/token0>\n"


def test_recipients_on_the_same_path_share_one_shape() -> None:
    store = TemplateStore(files_with("<mj-text>{{ contact.email }}</mj-text>"))
    for n in range(20):
        context = contact_context(0)
        context["contact"] = {**context["contact"], "email": f"r{n}@example.com"}
        sent = store.render_tracked("t", context, click=lambda i, u: u, pixel="p")
        assert f"r{n}@example.com" in sent.html and f"r{n}@example.com" in sent.text
    assert store.shapes_kept == 1


def test_what_cannot_be_shaped_is_not_kept_as_a_shape() -> None:
    store = TemplateStore(files_with(TRICKY["filter block"]))
    store.render_tracked("t", contact_context(0), click=lambda i, u: u, pixel="p")
    assert store.shapes_kept == 0  # the AST says no before any shape is made
    mangled = TemplateStore(files_with(TRICKY["filter inside a macro"]))
    sent = mangled.render_tracked("t", contact_context(0), click=lambda i, u: u, pixel="p")
    assert "ADA" in sent.html and mangled.shapes_kept == 0


def test_a_value_holding_the_marker_is_only_a_value() -> None:
    files = files_with("<mj-text>{{ contact.firstname }} {{ contact.lastname }}</mj-text>")
    context = contact_context(0)
    context["contact"] = {**context["contact"], "firstname": f"{MARK}v1_",
                          "lastname": "Lovelace"}
    sent = TemplateStore(files).render_tracked("t", context, click=lambda i, u: u, pixel="p")
    assert f"{MARK}v1_ Lovelace" in sent.html


def test_a_value_in_an_attribute_is_sent_as_it_is() -> None:
    """MJML (mrml) writes attribute values with Rust's debug escapes: a zero-width space
    becomes the six characters \\u{200b}, a backslash two. A value filled into a shape
    is not passed through it; in text content both are the same."""
    files = files_with('<mj-text><a href="https://s.example/{{ contact.slug }}">'
                       "{{ contact.slug }}</a></mj-text>")
    context = contact_context(0)
    context["contact"] = {**context["contact"], "slug": "a\\b\u200bc"}
    shaped = TemplateStore(files).render_tracked("t", context, click=lambda i, u: u,
                                                  pixel="p")
    unshaped = TemplateStore(files, shapes=False).render_tracked(
        "t", context, click=lambda i, u: u, pixel="p")
    assert shaped.links == ["https://s.example/a\\b\u200bc"]
    assert unshaped.links == ["https://s.example/a\\\\b\\u{200b}c"]
    assert ">a\\b\u200bc</a>" in shaped.html and ">a\\b\u200bc</a>" in unshaped.html
