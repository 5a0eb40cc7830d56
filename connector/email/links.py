"""Click and open tracking: rewrite an email's links to go through a tracking URL and add
an open pixel. Works on the final HTML text and changes nothing but the ``href`` values."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["add_open_pixel", "track_links", "with_utm"]

# Comments (MSO conditionals), style and script blocks are passed through untouched;
# only real <a ...> start tags are rewritten. Quoted values may contain '>'.
_TOKEN = re.compile(
    r"""(?P<skip><!--.*?-->|<(?P<raw>script|style)\b.*?</(?P=raw)\s*>)"""
    r"""|(?P<tag><a(?=[\s>/])(?:"[^"]*"|'[^']*'|[^'">])*>)""",
    re.IGNORECASE | re.DOTALL,
)
_ATTRIBUTE = re.compile(
    r"""(?P<name>[^\s"'>/=]+)(?:\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<uq>[^\s"'=<>`]+)))?""",
)
_TRACKED_SCHEMES = ("http://", "https://")
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def track_links(html: str, wrap: Callable[[int, str], str], *,
                utm: Mapping[str, str] | None = None) -> tuple[str, list[str]]:
    """Point every trackable ``<a href>`` at ``wrap(index, original_url)``, the original
    first given the ``utm`` parameters (a campaign's, see `with_utm`).

    Trackable means an http(s) URL on a link without a ``data-notrack`` attribute. Every
    link gets its own index in document order, even when a URL repeats, so clicks can be
    told apart by position. Returns the new HTML and the original (entity-decoded) URLs,
    ``originals[index]`` being the URL behind index ``index``.
    """
    originals: list[str] = []

    def rewrite(match: re.Match[str]) -> str:
        tag = match.group("tag")
        if tag is None:
            return match.group(0)
        href_span: tuple[int, int] | None = None
        href_value = ""
        for attribute in _ATTRIBUTE.finditer(tag, 2):
            name = attribute.group("name").lower()
            if name == "data-notrack":
                return tag
            if name == "href" and href_span is None:  # the first href wins, as in browsers
                values = [v for v in attribute.group("dq", "sq", "uq") if v is not None]
                if not values:
                    return tag
                href_span = attribute.span()
                href_value = values[0]
        if href_span is None:
            return tag
        url = htmllib.unescape(href_value).strip()
        if not url.lower().startswith(_TRACKED_SCHEMES):
            return tag
        if utm:
            url = with_utm(url, utm)
        index = len(originals)
        originals.append(url)
        tracked = htmllib.escape(wrap(index, url), quote=True)
        return f'{tag[: href_span[0]]}href="{tracked}"{tag[href_span[1] :]}'

    return _TOKEN.sub(rewrite, html), originals


def with_utm(url: str, utm: Mapping[str, str]) -> str:
    """`url` with ``utm_<key>=value`` for each of `utm` the link does not set itself (an
    author's own utm_content on one link wins over the campaign's)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {name for name, _ in query}
    added = [(f"utm_{key}", value) for key, value in utm.items()
             if f"utm_{key}" not in present]
    if not added:
        return url
    joined = f"{parts.query}&{urlencode(added)}" if parts.query else urlencode(added)
    return urlunsplit(parts._replace(query=joined))


def add_open_pixel(html: str, pixel_url: str) -> str:
    """Add a 1x1 tracking image just before the last ``</body>``, or at the end."""
    pixel = (
        f'<img src="{htmllib.escape(pixel_url, quote=True)}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0;margin:0;padding:0;" />'
    )
    ends = list(_BODY_END.finditer(html))
    if not ends:
        return html + pixel
    at = ends[-1].start()
    return html[:at] + pixel + html[at:]
