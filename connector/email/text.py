"""Plain-text alternative derived from an email's HTML, for clients (and spam filters)
that read the text/plain part."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Callable

__all__ = ["html_to_text", "inline_text", "link_text"]

# Content of these elements is never text a reader should see.
_SKIP_TAGS = frozenset({"head", "style", "script", "title", "template", "noscript"})
_VOID_TAGS = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }
)
# Paragraph-like elements get a blank line around them, other blocks a single break.
_PARAGRAPH_TAGS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "ul", "ol", "pre"}
)
_BLOCK_TAGS = frozenset(
    {
        "div",
        "li",
        "section",
        "article",
        "header",
        "footer",
        "hr",
        "dl",
        "dt",
        "dd",
        "address",
        "center",
        "main",
        "nav",
        "aside",
        "figure",
        "figcaption",
        "body",
        "html",
    }
)
_CELL_TAGS = frozenset({"td", "th"})
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|mso-hide\s*:\s*all", re.IGNORECASE)
# MJML's preview text is padded with invisible characters; drop them with the rest.
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u034f\u00ad"
_INVISIBLE = dict.fromkeys(map(ord, INVISIBLE), None)
_MARK_BREAK = "\x00B"
_MARK_PARAGRAPH = "\x00P"


# One pass of one regex over the HTML (html.parser's Python state machine was most of the
# cost of an email): comments, declarations and processing instructions are dropped,
# script and style elements with their content, and tags come with their raw attributes,
# parsed only where an attribute matters.
_TOKEN = re.compile(
    r"<!--.*?(?:-->|\Z)"
    r"|<(?P<raw>script|style)(?=[\s/>])(?:\"[^\"]*\"|'[^']*'|[^'\">])*>.*?(?:</(?P=raw)\s*>|\Z)"
    r"|<(?P<end>/)?(?P<tag>[a-zA-Z][^\s/>]*)(?P<attrs>(?:\"[^\"]*\"|'[^']*'|[^'\">])*)>"
    r"|<[!?][^>]*>",
    re.IGNORECASE | re.DOTALL,
)
_ATTRIBUTE = re.compile(
    r"""(?P<name>[^\s"'>/=]+)(?:\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<uq>[^\s>]+)))?"""
)
_ATTRIBUTES_USED = frozenset({"table", "img", "a"})


def _attributes(raw: str) -> dict[str, str | None]:
    """Like html.parser: names lowercased, values unescaped, the last duplicate wins."""
    attributes: dict[str, str | None] = {}
    for match in _ATTRIBUTE.finditer(raw):
        value = match.group("dq")
        if value is None:
            value = match.group("sq")
        if value is None:
            value = match.group("uq")
        if value is not None and "&" in value:
            value = htmllib.unescape(value)
        attributes[match.group("name").lower()] = value
    return attributes


class _TextExtractor:
    def __init__(self, links: Callable[[str, str], str]) -> None:
        self.link_text = links
        self.parts: list[str] = []
        self._skipping: list[str] = []  # open tags since a skipped element started
        self._links: list[tuple[str | None, int]] = []  # (href, index into parts)
        self._tables: list[bool] = []  # per open table: is it layout (role=presentation)?

    def feed(self, html: str) -> None:
        at = 0
        for match in _TOKEN.finditer(html):
            if match.start() > at:
                self.handle_data(html[at : match.start()])
            at = match.end()
            tag = match.group("tag")
            if tag is None:
                continue  # a comment, declaration, script or style
            tag = tag.lower()
            if match.group("end"):
                self.handle_endtag(tag)
                continue
            raw = match.group("attrs")
            if tag in _ATTRIBUTES_USED or (raw and _HIDDEN_STYLE.search(raw)):
                attributes = _attributes(raw)
            else:
                attributes = {}
            if raw.endswith("/"):
                self.handle_startendtag(tag, attributes)
            else:
                self.handle_starttag(tag, attributes)
        if at < len(html):
            self.handle_data(html[at:])

    def handle_starttag(self, tag: str, attributes: dict[str, str | None]) -> None:
        if self._skipping:
            if tag not in _VOID_TAGS:
                self._skipping.append(tag)
            return
        hidden = bool(_HIDDEN_STYLE.search(attributes.get("style") or ""))
        if (tag in _SKIP_TAGS or hidden) and tag not in _VOID_TAGS:
            self._skipping.append(tag)
            return
        if tag == "table":
            self._tables.append(attributes.get("role") == "presentation")
        if tag == "br":
            self.parts.append(_MARK_BREAK)
        elif tag == "tr":
            self.parts.append(self._row_mark())
        elif tag == "li":
            self.parts.extend((_MARK_BREAK, "- "))
        elif tag in _PARAGRAPH_TAGS:
            self.parts.append(_MARK_PARAGRAPH)
        elif tag in _BLOCK_TAGS:
            self.parts.append(_MARK_BREAK)
        elif tag in _CELL_TAGS:
            self.parts.append(" ")
        elif tag == "img" and not hidden:
            alt = (attributes.get("alt") or "").strip()
            if alt:
                self.parts.append(f" {alt} ")
        elif tag == "a":
            self._links.append((attributes.get("href"), len(self.parts)))

    def handle_startendtag(self, tag: str, attributes: dict[str, str | None]) -> None:
        self.handle_starttag(tag, attributes)
        if tag not in _VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._skipping:
            if tag in self._skipping:
                while self._skipping.pop() != tag:
                    pass
            return
        if tag == "tr":
            self.parts.append(self._row_mark())
        elif tag in _PARAGRAPH_TAGS:
            self.parts.append(_MARK_PARAGRAPH)
        elif tag in _BLOCK_TAGS:
            self.parts.append(_MARK_BREAK)
        elif tag in _CELL_TAGS:
            self.parts.append(" ")
        elif tag == "a" and self._links:
            href, start = self._links.pop()
            self._close_link(href, start)
        if tag == "table" and self._tables:
            self._tables.pop()

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(htmllib.unescape(data) if "&" in data else data)

    def _row_mark(self) -> str:
        # Rows of MJML's layout tables hold separate blocks (one per mj-text, mj-button...);
        # rows of a data table (mj-table) stay on consecutive lines.
        return _MARK_PARAGRAPH if self._tables and self._tables[-1] else _MARK_BREAK

    def _close_link(self, href: str | None, start: int) -> None:
        label = " ".join("".join(p for p in self.parts[start:] if p[:1] != "\x00").split())
        shown = self.link_text(label, (href or "").strip())
        if shown:
            self.parts.append(shown)


def link_text(label: str, href: str) -> str:
    """What follows a link's label in the text: ` (url)`, the URL alone for a link with no
    label, nothing when the label is the URL (or the link goes nowhere: `#`, javascript)."""
    if not href or href.startswith("#") or href.lower().startswith("javascript:"):
        return ""
    shown = href[len("mailto:") :] if href.lower().startswith("mailto:") else href
    if label in (href, shown):
        return ""
    return f" ({shown})" if label else shown


def inline_text(value: str) -> str:
    """A piece of text as `html_to_text` leaves it inside a line: invisible characters
    dropped, whitespace collapsed (connector/email/shapes.py fills merge values with it)."""
    return " ".join(value.translate(_INVISIBLE).replace("\xa0", " ").split())


def html_to_text(html: str, *, links: Callable[[str, str], str] = link_text) -> str:
    """Readable plain text for ``html``: hidden parts dropped, blocks on their own lines,
    links as ``text (url)``, whitespace collapsed, entities decoded. `links` writes what
    follows a link's label (given the label and the stripped href)."""
    parser = _TextExtractor(links)
    parser.feed(html)
    raw = "".join(parser.parts).translate(_INVISIBLE).replace("\xa0", " ")
    lines: list[str] = []
    blank_pending = False
    for chunk in re.split(f"({_MARK_BREAK}|{_MARK_PARAGRAPH})", raw):
        if chunk == _MARK_PARAGRAPH:
            blank_pending = True
            continue
        if chunk == _MARK_BREAK:
            continue
        line = " ".join(chunk.split())
        if not line:
            continue
        if blank_pending and lines:
            lines.append("")
        blank_pending = False
        lines.append(line)
    return "\n".join(lines) + "\n" if lines else ""
