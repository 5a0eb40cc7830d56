"""Compile an email once per shape, not once per recipient.

Most of an email's cost is not Jinja but what follows it: MJML, the text part, finding
the links to track. Recipients of one template mostly differ only in the values their
merge tags print, so those steps are done once per *shape* and the values filled in.

While a body renders for sending, each value a merge tag prints (not markup: a macro's
output, `|safe`) becomes a slot marker and is kept aside (`Slots`). The rendered MJML with
its markers is the shape's key: recipients whose control flow took the same path share
it. A `Shape` holds that MJML compiled, with the links tracked, the open pixel added and
the text part derived, each as parts with holes; `Shape.fill` puts one recipient's
values (escaped for HTML, collapsed for text), click URLs and pixel URL in.

What a value's content decides is kept out of the markers, so a shape is the same for
everyone who shares it: a value's URL scheme (`https://`, `mailto:`, `#`...) stays in the
shape, since it decides whether a link is tracked; an empty value, or one with whitespace
at its ends, is written in the shape as it is; what the text part writes after a link
(` (url)`, or nothing when the label is the URL) is decided at fill time. A shape is
refused (the recipient is compiled the ordinary way) when MJML drops or alters a marker,
when a marker sits where the HTML's structure would depend on it (an attribute name, a
`role`, a `display:` style), or when the template transforms rendered output (a
`{% filter %}` or `{% set %}` block, a filter on a macro's output: `shapeable`).
"""

from __future__ import annotations

import functools
import html as htmllib
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jinja2 import nodes
from markupsafe import Markup, escape

from connector.email.links import add_open_pixel, track_links, with_utm
from connector.email.text import INVISIBLE, html_to_text, inline_text, link_text

__all__ = ["Shape", "Slots", "make_shape", "shapeable"]

# Per process, random: a contact's data cannot contain a marker by chance or on purpose.
MARK = f"Sl{secrets.token_hex(8)}"
_MARKER = re.compile(MARK + r"([vcpd])(\d+)_")
# Enough of a marker to tell one that a filter cut short or changed the case of.
_ANY_MARK = re.compile(re.escape(MARK[:8]), re.IGNORECASE)
# A value's start that decides how its link is treated: tracked (http), not (mailto:...).
_SCHEME = re.compile(r"(?:https?://|mailto:|javascript:|#)", re.IGNORECASE)
_TAG = re.compile(r"""<[a-zA-Z](?:"[^"]*"|'[^']*'|[^'">])*>""")
_QUOTED = re.compile(r""""[^"]*"|'[^']*'""")
_ATTRIBUTE = re.compile(r"""([^\s"'>/=]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_HIDING = re.compile(r"(?:display|mso-hide)\s*:[^;]*$", re.IGNORECASE)

# A part is literal text or a hole: (kind, index); v: a value, c: a link's click URL,
# p: the open pixel, d: what the text writes after a link's label.
Part = str | tuple[str, int]


class Slots:
    """The values one render printed, in order; `add` returns what goes in their place."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self.spoiled = False  # a value held the marker: this render is compiled as usual

    def add(self, value: Any) -> Any:
        raw = value if type(value) is str else str(value)
        if not raw or raw[0].isspace() or raw[-1].isspace() or raw[0] in INVISIBLE or (
                raw[-1] in INVISIBLE):
            return value  # in the shape as it is: it changes how the text part reads
        if MARK in raw:
            self.spoiled = True
            return value
        scheme = _SCHEME.match(raw)
        prefix = scheme.group() if scheme else ""
        if len(prefix) == len(raw):
            return value
        self.values.append(raw[len(prefix):])
        return Markup(f"{prefix}{MARK}v{len(self.values) - 1}_")


@dataclass(frozen=True)
class Filled:
    html: str
    text: str | None
    links: list[str]


@dataclass
class Shape:
    html: list[Part]
    text: list[Part] | None  # None: the template's own body.txt is the text
    links: list[list[Part]]  # each tracked link's URL, before UTM
    after_links: list[tuple[list[Part], list[Part]]]  # (label, href) of the `d` holes
    _utm: dict[tuple[tuple[str, str], ...], list[str | None]] = field(default_factory=dict)

    def fill(self, values: Sequence[str], *, click: Callable[[int, str], str], pixel: str,
             utm: Mapping[str, str] | None) -> Filled:
        links = self._links(values, utm)
        pixel_attr = htmllib.escape(pixel, quote=True)

        def html_hole(hole: tuple[str, int]) -> str:
            kind, index = hole
            if kind == "v":
                return str(escape(values[index]))
            if kind == "c":
                return htmllib.escape(click(index, links[index]), quote=True)
            return pixel_attr

        html = _join(self.html, html_hole)
        text = None
        if self.text is not None:
            def text_hole(hole: tuple[str, int]) -> str:
                kind, index = hole
                if kind == "v":
                    value = values[index]  # most are plain ASCII: nothing invisible in them
                    return " ".join(value.split()) if value.isascii() else inline_text(value)
                label, href = self.after_links[index]
                return link_text(" ".join(_join(label, text_hole).split()),
                                 _join(href, lambda h: values[h[1]]))

            text = _join(self.text, text_hole)
        return Filled(html, text, links)

    def _links(self, values: Sequence[str], utm: Mapping[str, str] | None) -> list[str]:
        key = tuple(utm.items()) if utm else ()
        fixed = self._utm.get(key)
        if fixed is None:  # the links without values, with the campaign's UTM, once
            fixed = [None if any(type(p) is tuple for p in parts)
                     else _with_utm(_join(parts, _no_hole), key) for parts in self.links]
            self._utm[key] = fixed
        return [url if url is not None
                else _with_utm(_join(parts, lambda h: values[h[1]]), key)
                for url, parts in zip(fixed, self.links, strict=True)]


def make_shape(skeleton: str, compile_mjml: Callable[[str], str], *, text: bool
               ) -> Shape | None:
    """The shape of a rendered body with markers (`Slots`), or None when it cannot be one
    (the caller compiles each recipient as usual). Raises what `compile_mjml` raises."""
    marked = _MARKER.findall(skeleton)
    if len(_ANY_MARK.findall(skeleton)) != len(marked):
        return None  # a filter changed a marker (`|upper` on a macro's output, say)
    used = {int(i) for _, i in marked}
    html = compile_mjml(skeleton)
    found = _MARKER.findall(html)
    if used - {int(i) for kind, i in found if kind == "v"}:
        return None  # MJML dropped or rewrote a value (a width it parsed, say)
    if len(_ANY_MARK.findall(html)) != len(found) or _markers_in_structure(html):
        return None
    after_links: list[tuple[str, str]] = []

    def defer(label: str, href: str) -> str:
        if MARK not in label and MARK not in href:
            return link_text(label, href)
        after_links.append((label, href))
        return f"{MARK}d{len(after_links) - 1}_"

    text_part = html_to_text(html, links=defer) if text else None
    tracked, originals = track_links(html, lambda index, _url: f"{MARK}c{index}_")
    tracked = add_open_pixel(tracked, f"{MARK}p0_")
    return Shape(
        html=_parts(tracked),
        text=None if text_part is None else _parts(text_part),
        links=[_parts(url) for url in originals],
        after_links=[(_parts(label), _parts(href)) for label, href in after_links],
    )


def _markers_in_structure(html: str) -> bool:
    """A marker where the HTML's structure, for tracking or the text part, would depend on
    the value: outside a quoted attribute value, in a `role`, after `display:`."""
    for tag in _TAG.finditer(html):
        source = tag.group()
        if MARK not in source:
            continue
        if MARK in _QUOTED.sub("", source):
            return True
        for name, double, single in _ATTRIBUTE.findall(source):
            value = double or single
            if MARK not in value:
                continue
            name = name.lower()
            if name == "role" or (name == "style" and
                                  any(_HIDING.search(value[: m.start()])
                                      for m in _MARKER.finditer(value))):
                return True
    return False


def _parts(source: str) -> list[Part]:
    pieces = _MARKER.split(source)  # text, kind, index, text, kind, index, ..., text
    parts: list[Part] = []
    for at in range(0, len(pieces) - 1, 3):
        if pieces[at]:
            parts.append(pieces[at])
        parts.append((pieces[at + 1], int(pieces[at + 2])))
    if pieces[-1]:
        parts.append(pieces[-1])
    return parts


def _join(parts: Iterable[Part], hole: Callable[[tuple[str, int]], str]) -> str:
    return "".join([p if type(p) is str else hole(p) for p in parts])  # type: ignore[arg-type]


def _no_hole(hole: tuple[str, int]) -> str:
    raise AssertionError(f"a hole in a fixed part: {hole}")


@functools.lru_cache(maxsize=4096)
def _with_utm(url: str, utm: tuple[tuple[str, str], ...]) -> str:
    return with_utm(url, dict(utm)) if utm else url


# Constructs that transform rendered output, markers and all: a shape of their template
# would fill in values the transform never saw.
_CAPTURES = (nodes.FilterBlock, nodes.AssignBlock)
_ON_OUTPUT = (nodes.Filter, nodes.Test, nodes.Getattr, nodes.Getitem, nodes.Compare,
              nodes.Assign)


def shapeable(templates: Iterable[nodes.Template]) -> bool:
    """Whether none of these parsed templates (a body and everything it extends, includes
    and imports) transforms rendered output: a `{% filter %}` or `{% set %}...{% endset %}`
    block, a filter, test, comparison, attribute or item of a call's result (a macro's
    output, `caller()`, `super()`), or a call's result kept in a variable."""
    for template in templates:
        for node in template.find_all(_CAPTURES + _ON_OUTPUT):
            if isinstance(node, _CAPTURES):
                return False
            if isinstance(node, nodes.Assign):
                if isinstance(node.node, nodes.Call) or any(node.node.find_all(nodes.Call)):
                    return False
                continue
            subjects = ([node.expr, *(o.expr for o in node.ops)]
                        if isinstance(node, nodes.Compare) else [getattr(node, "node", None)])
            if any(isinstance(s, nodes.Call) for s in subjects):
                return False
    return True
