"""TemplateStore: sandboxed Jinja over MJML, every failure a TemplateError."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from connector.email.errors import TemplateError
from connector.email.templates import MAX_SUBJECT_LENGTH, TemplateStore

LAYOUT = """<mjml>
  <mj-body>
    <mj-section><mj-column><mj-text>Layout header</mj-text></mj-column></mj-section>
{% block content %}{% endblock %}
{% include "_partials/footer.mjml" %}
  </mj-body>
</mjml>
"""
FOOTER = """<mj-section><mj-column><mj-text>
  <a href="{{ unsubscribe_url }}" data-notrack>Unsubscribe</a> {{ company.name }}
</mj-text></mj-column></mj-section>
"""


def body(content: str) -> str:
    return (
        '{% extends "_layouts/base.mjml" %}{% block content %}'
        f"<mj-section><mj-column><mj-text>{content}</mj-text></mj-column></mj-section>"
        "{% endblock %}"
    )


def write(
    root: Path, name: str, *, subject: str = "Hello", mjml: str = "", text: str | None = None
) -> None:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "subject.txt").write_text(subject)
    (folder / "body.mjml").write_text(mjml or body("Hi"))
    if text is not None:
        (folder / "body.txt").write_text(text)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "_layouts").mkdir()
    (tmp_path / "_layouts" / "base.mjml").write_text(LAYOUT)
    (tmp_path / "_partials").mkdir()
    (tmp_path / "_partials" / "footer.mjml").write_text(FOOTER)
    return tmp_path


class FolderStore:
    """The templates of `root` as they are at each call (tests write files as they go)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __getattr__(self, name: str) -> Any:
        return getattr(TemplateStore.from_directory(self.root), name)


@pytest.fixture
def store(root: Path) -> FolderStore:
    return FolderStore(root)


def context(**contact: Any) -> dict[str, Any]:
    return {
        "contact": {"email": "ada@example.com", "crm_id": "42", **contact},
        "event": None,
        "unsubscribe_url": "https://mail.example.com/u/tok?a=1&b=2",
        "preferences_url": "https://mail.example.com/p/tok",
        "company": {"name": "Acme & Co", "address": "1 Main St"},
    }


def test_merge_tags_defaults_and_missing_values(store: FolderStore, root: Path) -> None:
    write(
        root,
        "hi",
        subject="Hi {{ contact.firstname | default('there') }}",
        mjml=body("[{{ contact.nothing }}] [{{ contact.lastname }}] {{ contact.email }}"),
    )

    assert store.render("hi", context(firstname="Ada")).subject == "Hi Ada"
    rendered = store.render("hi", context(lastname=None))
    assert rendered.subject == "Hi there"
    assert "[] []" in rendered.html  # undefined and null both print as nothing
    assert "ada@example.com" in rendered.html


def test_html_is_autoescaped_but_subject_and_text_are_not(store: FolderStore, root: Path) -> None:
    write(
        root,
        "esc",
        subject="For {{ contact.firstname }}",
        mjml=body("{{ contact.firstname }}"),
        text="Dear {{ contact.firstname }}",
    )
    rendered = store.render("esc", context(firstname="<script>alert(1)</script> & co"))

    assert "<script>alert(1)</script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in rendered.html
    assert rendered.subject == "For <script>alert(1)</script> & co"
    assert rendered.text == "Dear <script>alert(1)</script> & co\n"


def test_autoescape_covers_attributes(store: FolderStore, root: Path) -> None:
    write(root, "attr", mjml=body('<a href="https://example.com/?n={{ contact.firstname }}">x</a>'))
    html = store.render("attr", context(firstname='"><script>x</script>')).html
    assert 'href="https://example.com/?n=&#34;&gt;&lt;script&gt;x&lt;/script&gt;"' in html


def test_layout_and_partial_are_used(store: FolderStore, root: Path) -> None:
    write(root, "news", mjml=body("Body text"))
    rendered = store.render("news", context())

    assert rendered.html.startswith("<!doctype html>")
    assert "Layout header" in rendered.html and "Body text" in rendered.html
    assert 'href="https://mail.example.com/u/tok?a=1&amp;b=2" data-notrack' in rendered.html
    assert "Acme &amp; Co" in rendered.html


def test_subject_is_one_line_and_capped(store: FolderStore, root: Path) -> None:
    write(root, "inj", subject="Hi {{ contact.firstname }}\n\n  there\n")
    evil = store.render("inj", context(firstname="Ada\r\nBcc: all@example.com\x00\x0b"))
    assert evil.subject == "Hi Ada Bcc: all@example.com there"

    long = store.render("inj", context(firstname="x" * 1000))
    assert len(long.subject) == MAX_SUBJECT_LENGTH and long.subject.endswith("\u2026")


def test_empty_subject_is_an_error(store: FolderStore, root: Path) -> None:
    write(root, "blank", subject="{{ contact.nothing }}\n")
    with pytest.raises(TemplateError, match="subject is empty"):
        store.render("blank", context())


def test_text_is_derived_from_html_without_body_txt(store: FolderStore, root: Path) -> None:
    write(root, "plain", mjml=body('Read <a href="https://example.com/guide">the guide</a>.'))
    text = store.render("plain", context()).text

    assert "Layout header" in text
    assert "Read the guide (https://example.com/guide)." in text
    assert "Unsubscribe (https://mail.example.com/u/tok?a=1&b=2) Acme & Co" in text
    assert "<" not in text


def test_body_txt_overrides_derived_text(store: FolderStore, root: Path) -> None:
    write(
        root,
        "own",
        text="Hi {{ contact.firstname }}!\n{% for i in [1, 2] %}line {{ i }}\n"
        "{% endfor %}\n{{ unsubscribe_url }}\n",
    )
    assert store.render("own", context(firstname="Ada")).text == (
        "Hi Ada!\nline 1\nline 2\nhttps://mail.example.com/u/tok?a=1&b=2\n"
    )


def test_mapping_properties_win_over_dict_methods(store: FolderStore, root: Path) -> None:
    write(
        root,
        "loop",
        mjml=body(
            "{% for item in event.items %}"
            "[{{ item.name }} x{{ item.quantity }}]"
            "{% endfor %}{{ contact.keys }}"
        ),
    )
    values = context(keys="K")
    values["event"] = {
        "name": "order",
        "items": [{"name": "Mug", "quantity": 2}, {"name": "Tea", "quantity": 1}],
    }
    html = store.render("loop", values).html
    assert "[Mug x2][Tea x1]K" in html


def test_missing_keys_are_undefined_never_dict_methods(store: FolderStore, root: Path) -> None:
    write(
        root,
        "bare",
        mjml=body(
            "{% for item in event.items %}[{{ item }}]{% endfor %}"
            "({{ event.items | default('none') }}){{ contact.get('nick', 'pal') }}"
        ),
    )
    values = context()
    values["event"] = {"name": "order"}  # no items
    html = store.render("bare", values).html
    assert "(none)pal" in html


@pytest.mark.parametrize(
    "expression",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ contact.__init__.__globals__ }}",
        "{{ contact.update({'email': 'x'}) }}",
        "{{ contact.email.__class__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ lipsum.__globals__['os'].popen('id').read() }}",
        "{{ 'ab' * 10000000 }}",
        "{{ 9 ** 9999999 }}",
        "{% for i in range(100000000) %}{% endfor %}",
    ],
)
def test_sandbox_escapes_raise_template_error(
    store: FolderStore, root: Path, expression: str
) -> None:
    write(root, "evil", mjml=body(expression))
    with pytest.raises(TemplateError) as caught:
        store.render("evil", context())
    message = str(caught.value)
    assert message.startswith("template 'evil' (body.mjml, line 1): ")
    assert caught.value.template == "evil"


def test_missing_and_invalid_templates(store: FolderStore, root: Path) -> None:
    with pytest.raises(TemplateError, match="template 'nope': no such template"):
        store.render("nope", context())
    for name in ("../etc", "_layouts", "", "a/b"):
        assert not store.exists(name)
        with pytest.raises(TemplateError):
            store.render(name, context())
    (root / "half").mkdir()
    (root / "half" / "subject.txt").write_text("only a subject")
    write(root, "whole")
    assert store.names() == ["whole"]
    assert store.exists("whole") and not store.exists("half")


def test_syntax_error_names_file_and_line(store: FolderStore, root: Path) -> None:
    write(
        root,
        "broken",
        mjml='{% extends "_layouts/base.mjml" %}\n{% block content %}\n'
        "{{ contact.email }\n{% endblock %}\n",
    )
    with pytest.raises(TemplateError) as caught:
        store.render("broken", context())
    assert caught.value.source == "body.mjml" and caught.value.line == 3
    assert str(caught.value).startswith("template 'broken' (body.mjml, line 3): syntax error")


def test_runtime_errors_name_the_line_even_in_a_layout(store: FolderStore, root: Path) -> None:
    write(root, "calls", mjml=body("\n\n{{ contact.email() }}"))
    with pytest.raises(TemplateError) as caught:
        store.render("calls", context())
    assert caught.value.line == 3 and "not callable" in str(caught.value)

    write(root, "undefined", mjml=body("{{ contact.missing() }}"))
    with pytest.raises(TemplateError, match="undefined value"):
        store.render("undefined", context())

    (root / "_layouts" / "base.mjml").write_text(LAYOUT.replace("Layout header", "{{ 1 // 0 }}"))
    with pytest.raises(TemplateError) as in_layout:
        store.render("calls", context())
    assert (in_layout.value.source, in_layout.value.line) == ("_layouts/base.mjml", 3)
    assert "ZeroDivisionError" in str(in_layout.value)


def test_missing_include_is_a_template_error(store: FolderStore, root: Path) -> None:
    write(root, "inc", mjml=body('{% include "_partials/nope.mjml" %}'))
    with pytest.raises(TemplateError, match=r"included template '_partials/nope\.mjml' not found"):
        store.render("inc", context())


@pytest.mark.parametrize(
    "mjml",
    [
        "<mjml><mj-body><mj-section><mj-column><mj-text>Hi</mj-column></mj-section></mj-body></mjml>",
        "not mjml at all",
        '<mjml><mj-body><mj-include path="/etc/passwd" /></mj-body></mjml>',
    ],
)
def test_mjml_errors_are_template_errors(store: FolderStore, root: Path, mjml: str) -> None:
    write(root, "bad", mjml=mjml)
    with pytest.raises(TemplateError, match=r"template 'bad' \(body\.mjml\): invalid MJML"):
        store.render("bad", context())


def test_a_store_is_a_snapshot_of_the_files_it_was_given(root: Path) -> None:
    write(root, "edit", subject="First")
    snapshot = TemplateStore.from_directory(root)
    (root / "edit" / "subject.txt").write_text("Second")
    assert snapshot.render("edit", context()).subject == "First"
    assert TemplateStore.from_directory(root).render("edit", context()).subject == "Second"


def test_check_syntax_finds_errors_in_every_file_without_rendering(root: Path) -> None:
    write(root, "good")
    write(root, "bad", subject="Hi {{ contact.firstname ")
    (root / "_partials" / "broken.mjml").write_text("{% if %}")
    errors = TemplateStore.from_directory(root).check_syntax()
    assert [(e.template, e.source) for e in errors] == [
        ("_partials", "broken.mjml"),
        ("bad", "subject.txt"),
    ]


def test_template_error_survives_pickling() -> None:
    error = TemplateError("welcome", "boom", source="body.mjml", line=4)
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error) == "template 'welcome' (body.mjml, line 4): boom"
    assert (copy.template, copy.reason, copy.source, copy.line) == (
        "welcome",
        "boom",
        "body.mjml",
        4,
    )
