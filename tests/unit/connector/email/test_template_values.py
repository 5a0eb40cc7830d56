"""What a merge tag prints for values that are not text: never a Python repr (a dict, a
list, a view or a generator prints as nothing), and the subject stays one short line."""

from __future__ import annotations

from typing import Any

import pytest

from connector.email.templates import MAX_SUBJECT_LENGTH, TemplateStore

MJML = (
    "<mjml><mj-body><mj-section><mj-column><mj-text>{}</mj-text></mj-column></mj-section>"
    "</mj-body></mjml>"
)


def render(subject: str, body: str, **context: Any):  # type: ignore[no-untyped-def]
    store = TemplateStore({"t/subject.txt": subject, "t/body.mjml": MJML.format(body),
                           "t/body.txt": body})
    return store.render("t", context)


@pytest.mark.parametrize(
    "value",
    [{"a": 1}, ["a", "b"], ("a",), {"a"}, range(3)],
    ids=["dict", "list", "tuple", "set", "range"],
)
def test_a_collection_printed_by_a_merge_tag_prints_nothing(value: object) -> None:
    rendered = render("Welcome, {{ contact.firstname }}!", "Hi [{{ contact.firstname }}]",
                      contact={"firstname": value})
    assert rendered.subject == "Welcome, !"
    assert rendered.text == "Hi []\n"
    assert "Hi []" in rendered.html
    assert "{" not in rendered.subject and "[" not in rendered.subject


def test_methods_results_of_mappings_print_nothing_too() -> None:
    rendered = render("x", "[{{ contact.keys() }}][{{ contact.values() }}]",
                      contact={"firstname": "Ada"})
    assert rendered.text == "[][]\n"


def test_collections_still_work_inside_tags() -> None:
    event = {"items": [{"name": "Mug"}, {"name": "Tea"}], "product": {"name": "Pot"}}
    rendered = render(
        "{{ event.product.name }}",
        "{% for item in event.items %}{{ item.name }};{% endfor %}"
        " {{ event.items | map(attribute='name') | join(', ') }} {{ event.items | length }}",
        event=event,
    )
    assert rendered.subject == "Pot"
    assert rendered.text == "Mug;Tea; Mug, Tea 2\n"


def test_scalars_print_as_before() -> None:
    rendered = render("{{ a }} {{ b }} {{ c }} [{{ d }}] [{{ missing }}]", "x",
                      a="Ada", b=3, c=True, d=None)
    assert rendered.subject == "Ada 3 True [] []"


def test_a_huge_or_multi_line_value_never_makes_a_long_or_folded_subject() -> None:
    rendered = render("Hi {{ contact.firstname }}", "x",
                      contact={"firstname": "Ada\r\nBcc: evil@example.com\n" + "x" * 900_000})
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    assert len(rendered.subject) <= MAX_SUBJECT_LENGTH
