"""html_to_text: the plain-text part derived from HTML."""

from __future__ import annotations

from connector.email.text import html_to_text


def test_drops_head_style_script_and_hidden_preview() -> None:
    html = """<html><head><title>T</title><style>p { color: red }</style></head>
    <body><div style="display:none;max-height:0">Preview &#847;&zwnj;&nbsp;</div>
    <script>alert(1)</script><p>Visible</p></body></html>"""
    assert html_to_text(html) == "Visible\n"


def test_blocks_become_lines_and_whitespace_collapses() -> None:
    html = "<h1>Title</h1><p>One\n   two</p><div>Three<br>Four</div><p>Five</p>"
    assert html_to_text(html) == "Title\n\nOne two\n\nThree\nFour\n\nFive\n"


def test_links_show_their_url() -> None:
    html = (
        '<p>Read <a href="https://example.com/a?x=1&amp;y=2">the <b>guide</b></a>, '
        '<a href="https://example.com/b">https://example.com/b</a>, '
        '<a href="mailto:help@example.com">help@example.com</a>, '
        '<a href="#top">top</a> and <a href="https://example.com/c"><img src="i.png"></a>.</p>'
    )
    assert html_to_text(html) == (
        "Read the guide (https://example.com/a?x=1&y=2), https://example.com/b, "
        "help@example.com, top and https://example.com/c.\n"
    )


def test_entities_lists_and_tables() -> None:
    html = (
        "<p>Tom &amp; Jerry &lt;3 caf&eacute;&nbsp;&#8364;5</p>"
        "<ul><li>first</li><li>second</li></ul>"
        "<table><tr><td>Mug</td><td>2</td></tr><tr><td>Tea</td><td>1</td></tr></table>"
    )
    assert html_to_text(html) == (
        "Tom & Jerry <3 caf\u00e9 \u20ac5\n\n- first\n- second\n\nMug 2\nTea 1\n"
    )


def test_empty_and_images() -> None:
    assert html_to_text("") == ""
    assert html_to_text('<p><img src="logo.png" alt="Acme"></p>') == "Acme\n"
