"""track_links / add_open_pixel: only href values of trackable links change."""

from __future__ import annotations

from connector.email.links import add_open_pixel, track_links


def tracker(index: int, url: str) -> str:
    return f"https://t.example/c/{index}?u={len(url)}&s=sig"


def test_rewrites_http_links_whatever_the_quoting_and_order() -> None:
    html = (
        '<a href="https://example.com/1">a</a>'
        "<a class='btn' HREF='http://example.com/2' target=_blank>b</a>"
        '<a href=https://example.com/3 title="x > y">c</a>'
        '<a\n  style="color:red"\n  href = "https://example.com/4">d</a>'
    )
    new_html, originals = track_links(html, tracker)

    assert originals == [
        "https://example.com/1",
        "http://example.com/2",
        "https://example.com/3",
        "https://example.com/4",
    ]
    assert new_html == (
        '<a href="https://t.example/c/0?u=21&amp;s=sig">a</a>'
        "<a class='btn' href=\"https://t.example/c/1?u=20&amp;s=sig\" target=_blank>b</a>"
        '<a href="https://t.example/c/2?u=21&amp;s=sig" title="x > y">c</a>'
        '<a\n  style="color:red"\n  href="https://t.example/c/3?u=21&amp;s=sig">d</a>'
    )


def test_entities_are_decoded_in_originals_and_escaped_in_html() -> None:
    new_html, originals = track_links(
        '<a href="https://example.com/?a=1&amp;b=2&#38;c=3">x</a>', lambda i, url: url + "&t=1"
    )
    assert originals == ["https://example.com/?a=1&b=2&c=3"]
    assert new_html == '<a href="https://example.com/?a=1&amp;b=2&amp;c=3&amp;t=1">x</a>'


def test_skips_non_http_and_notrack_links() -> None:
    html = (
        '<a href="mailto:help@example.com">m</a><a href="tel:+123">t</a><a href="#top">#</a>'
        '<a href="/relative">r</a><a name="anchor">n</a>'
        '<a href="https://example.com/u" data-notrack>u</a>'
        '<a DATA-NOTRACK="" href="https://example.com/v">v</a>'
        '<abbr title="https://example.com/no">abbr</abbr>'
        '<!--[if mso]><a href="https://example.com/mso">mso</a><![endif]-->'
        '<style>a[href^="https://example.com/css"] { color: red }</style>'
    )
    assert track_links(html, tracker) == (html, [])


def test_repeated_url_gets_one_index_per_link() -> None:
    html = '<a href="https://example.com/">1</a><a href="https://example.com/">2</a>'
    new_html, originals = track_links(html, tracker)
    assert originals == ["https://example.com/", "https://example.com/"]
    assert "/c/0?" in new_html and "/c/1?" in new_html


def test_open_pixel_goes_before_body_end_or_at_the_end() -> None:
    pixel_url = "https://t.example/o/1?a=1&b=2"
    with_body = add_open_pixel("<html><body><p>x</p></BODY></html>", pixel_url)
    assert with_body.startswith('<html><body><p>x</p><img src="https://t.example/o/1?a=1&amp;b=2"')
    assert 'width="1" height="1" alt=""' in with_body
    assert with_body.endswith("</BODY></html>")

    fragment = add_open_pixel("<p>x</p>", pixel_url)
    assert fragment.startswith("<p>x</p><img ") and fragment.endswith("/>")
