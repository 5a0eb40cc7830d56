"""Email templates: user content rendered in Jinja's sandbox, then compiled from MJML.

A template is a folder ``<root>/<name>/`` holding ``subject.txt``, ``body.mjml`` and
optionally ``body.txt``; ``_layouts/`` and ``_partials/`` hold shared pieces. A store works
on the files' texts (an account's workspace lives in the database, not on a disk), read
from a folder by `TemplateStore.from_directory`. Every failure surfaces as TemplateError so
one bad template fails one message, never the batch.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2 import (
    BaseLoader,
    Environment,
    TemplateNotFound,
    TemplateSyntaxError,
    Undefined,
    meta,
    nodes,
    pass_eval_context,
    select_autoescape,
)
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from mjml import mjml2html

from connector.email.errors import TemplateError
from connector.email.links import add_open_pixel, track_links
from connector.email.shapes import Shape, Slots, make_shape, shapeable
from connector.email.text import html_to_text

__all__ = ["RenderedEmail", "TemplateStore", "TrackedEmail"]

SUBJECT_FILE = "subject.txt"
HTML_FILE = "body.mjml"
TEXT_FILE = "body.txt"
MAX_SUBJECT_LENGTH = 250
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
# Cheap guards against a template exhausting a shared worker's memory or CPU.
_MAX_REPEAT = 100_000
_MAX_POWER_BITS = 10_000


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


@dataclass(frozen=True)
class TrackedEmail:
    """An email as it is sent: links pointing at their click URLs, the open pixel in, and
    `links[i]`, the URL behind click `i` (with the campaign's UTM)."""

    subject: str
    html: str
    text: str
    links: list[str]


# Shapes kept per store (each about three times the email's size); one per path a
# template's control flow takes, so a few per template.
SHAPES_KEPT = 128


_MAPPING_METHODS = frozenset({"get", "keys", "values"})


class _EmailEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, plus two conveniences for merge tags and two resource guards."""

    intercepted_binops = frozenset({"*", "**"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        # On data (contact, event), `x.key` is the key: `event.items` is the event's items,
        # and a missing key is undefined rather than a dict method (the classic Jinja
        # surprise). Only a few read-only methods stay reachable, for `contact.get(...)`.
        if isinstance(obj, Mapping) and isinstance(attribute, str):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                if attribute not in _MAPPING_METHODS:
                    return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        # Jinja would return an Undefined that prints as nothing; an escape attempt should
        # fail loudly with a reason instead.
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe"
        )

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if (
                    isinstance(sequence, str | list | tuple)
                    and isinstance(times, int)
                    and len(sequence) * times > _MAX_REPEAT
                ):
                    raise SecurityError("repetition result is too large")
        elif (
            operator == "**"
            and isinstance(left, int)
            and isinstance(right, int)
            and left.bit_length() * right > _MAX_POWER_BITS
        ):
            raise SecurityError("power result is too large")
        return super().call_binop(context, operator, left, right)


# Set while a body renders for sending: printed values become slots (email/shapes.py).
_slots: ContextVar[Slots | None] = ContextVar("template_slots", default=None)


@pass_eval_context
def _finalize(eval_ctx: EvalContext, value: Any) -> Any:
    """What `{{ ... }}` prints (`_printable`); while a body renders for sending, a slot in
    place of a value (markup, a macro's output say, stays as it is)."""
    value = _printable(value)
    slots = _slots.get()
    if slots is None or not eval_ctx.autoescape or hasattr(value, "__html__"):
        return value
    return slots.add(value)


def _printable(value: Any) -> Any:
    """A CRM property that is null prints as nothing, not "None"; so does a collection (a
    dict, list, set, a view or a generator): its Python repr (`Welcome, {'a': 1}`) is never
    what the author meant, and failing the email would punish the recipient for the
    sender's data. Loop over it or pick a key instead."""
    if value is None:
        return ""
    if type(value) is str:  # the common case, without an ABC check per merge tag
        return value
    if isinstance(value, Iterable) and not isinstance(value, str | Undefined):
        return ""
    return value


def _refuse_mjml_include(path: str) -> str:
    # Sharing goes through Jinja's {% include %}; <mj-include> could read arbitrary files.
    raise ValueError(f"<mj-include> is not supported ({path})")


# Where Jinja says a template's code lives: tracebacks name files under it, which is how an
# error is traced back to a template file and line (see _location).
_ROOT = "/<templates>"
MAX_TEMPLATE_FILE_BYTES = 512 * 1024


class _FilesLoader(BaseLoader):
    """Template sources from a mapping of relative paths to texts."""

    def __init__(self, files: Mapping[str, str]) -> None:
        self.files = files

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Any]:
        source = self.files.get(template)
        if source is None:
            raise TemplateNotFound(template)
        return source, f"{_ROOT}/{template}", lambda: True

    def list_templates(self) -> list[str]:
        return sorted(self.files)


class TemplateStore:
    """Templates from ``files`` (``welcome/subject.txt`` -> text). Long-lived: Jinja
    caches each parsed template, and `render_tracked` compiles MJML once per shape
    (email/shapes.py); `shapes=False` compiles every email (the reference the shapes are
    tested against)."""

    def __init__(self, files: Mapping[str, str], *, shapes: bool = True) -> None:
        self.files = dict(files)
        self.root = Path(_ROOT)
        self.use_shapes = shapes
        self._shapes: OrderedDict[str, Shape | None] = OrderedDict()
        self._shapeable: dict[str, bool] = {}
        self._environment = _EmailEnvironment(
            loader=_FilesLoader(self.files),
            autoescape=select_autoescape(
                enabled_extensions=("mjml", "html", "htm", "xml"),
                disabled_extensions=("txt",),
                default_for_string=False,
                default=False,
            ),
            finalize=_finalize,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
            cache_size=1000,
        )

    @classmethod
    def from_directory(cls, root: Path) -> TemplateStore:
        """Every text file under ``root`` (a missing folder has no templates)."""
        return cls(read_template_files(Path(root)))

    def names(self) -> list[str]:
        """Names of the complete templates, without the shared ``_`` folders."""
        folders = {path.partition("/")[0] for path in self.files if "/" in path}
        return sorted(name for name in folders if self.exists(name))

    def exists(self, name: str) -> bool:
        if not _NAME.fullmatch(name):
            return False
        return f"{name}/{SUBJECT_FILE}" in self.files and f"{name}/{HTML_FILE}" in self.files

    def check_syntax(self) -> list[TemplateError]:
        """A syntax error in any file (shared ones included), without rendering."""
        errors = []
        for path in sorted(self.files):
            name = path.partition("/")[0]
            try:
                self._environment.get_template(path)
            except TemplateSyntaxError as exc:
                errors.append(
                    TemplateError(name, f"syntax error: {exc.message}",
                                  source=self._source_label(name, exc.name) or path,
                                  line=exc.lineno)
                )
        return errors

    def render(self, name: str, context: Mapping[str, Any]) -> RenderedEmail:
        """Subject, HTML and text for one recipient; raises TemplateError on any failure."""
        self._check_name(name)
        values = dict(context)
        subject = self._subject(name, values)
        html = self._compile_mjml(name, self._render(name, HTML_FILE, values))
        if f"{name}/{TEXT_FILE}" in self.files:
            text = self._render(name, TEXT_FILE, values).strip() + "\n"
        else:
            text = html_to_text(html)
        return RenderedEmail(subject=subject, html=html, text=text)

    @property
    def shapes_kept(self) -> int:
        """How many shapes this store holds (a refused one is not a shape)."""
        return sum(shape is not None for shape in self._shapes.values())

    def render_tracked(self, name: str, context: Mapping[str, Any], *,
                       click: Callable[[int, str], str], pixel: str,
                       utm: Mapping[str, str] | None = None) -> TrackedEmail:
        """`render`, then every trackable link pointed at `click(index, url)` (the URL
        with `utm`) and the open pixel `pixel` added, as `links.track_links` and
        `links.add_open_pixel` do; compiled once per shape of the body."""
        self._check_name(name)
        values = dict(context)
        subject = self._subject(name, values)
        own_text = f"{name}/{TEXT_FILE}" in self.files
        slots = Slots() if self.use_shapes and self._is_shapeable(name) else None
        token = _slots.set(slots)
        try:
            body = self._render(name, HTML_FILE, values)
        finally:
            _slots.reset(token)
        shape = None if slots is None or slots.spoiled else self._shape(name, body, own_text)
        text = self._render(name, TEXT_FILE, values).strip() + "\n" if own_text else None
        if shape is None:
            if slots is not None:  # rendered again without markers (a filter may have seen them)
                body = self._render(name, HTML_FILE, values)
            html = self._compile_mjml(name, body)
            text = text if text is not None else html_to_text(html)  # the links untracked
            html, links = track_links(html, click, utm=utm)
            return TrackedEmail(subject, add_open_pixel(html, pixel), text, links)
        filled = shape.fill(slots.values if slots else [], click=click, pixel=pixel, utm=utm)
        return TrackedEmail(subject, filled.html, text or filled.text or "", filled.links)

    def _check_name(self, name: str) -> None:
        if not self.exists(name):
            reason = (
                f"no such template (expected {SUBJECT_FILE} and {HTML_FILE} in {name}/)"
                if _NAME.fullmatch(name)
                else "not a valid template name"
            )
            raise TemplateError(name, reason)

    def _subject(self, name: str, values: dict[str, Any]) -> str:
        subject = _one_line(self._render(name, SUBJECT_FILE, values))
        if not subject:
            raise TemplateError(name, "subject is empty", source=SUBJECT_FILE)
        return subject

    def _shape(self, name: str, body: str, own_text: bool) -> Shape | None:
        if body in self._shapes:
            self._shapes.move_to_end(body)
            return self._shapes[body]
        try:
            shape = make_shape(body, lambda mjml: self._compile_mjml(name, mjml),
                               text=not own_text)
        except TemplateError:
            shape = None  # compiled per recipient: the error, if it is one, is theirs
        self._shapes[body] = shape
        if len(self._shapes) > SHAPES_KEPT:
            self._shapes.popitem(last=False)
        return shape

    def _is_shapeable(self, name: str) -> bool:
        """Whether nothing the body renders (it, and what it extends, includes, imports)
        transforms rendered output (email/shapes.py `shapeable`)."""
        known = self._shapeable.get(name)
        if known is None:
            known = self._shapeable[name] = shapeable(self._parsed(f"{name}/{HTML_FILE}"))
        return known

    def _parsed(self, path: str) -> list[nodes.Template]:
        """A template and every template it names, parsed (a name computed at render
        time cannot be followed: then nothing is shapeable)."""
        found: dict[str, nodes.Template] = {}
        waiting = [path]
        while waiting:
            current = waiting.pop()
            if current in found or current not in self.files:
                continue
            try:
                found[current] = self._environment.parse(self.files[current], current)
            except TemplateSyntaxError:
                return [nodes.Template([nodes.FilterBlock()])]  # never shaped; render says
            for name in meta.find_referenced_templates(found[current]):
                if name is None:
                    return [nodes.Template([nodes.FilterBlock()])]
                waiting.append(name)
        return list(found.values())

    def _render(self, name: str, file: str, values: dict[str, Any]) -> str:
        try:
            return self._environment.get_template(f"{name}/{file}").render(values)
        except TemplateSyntaxError as exc:
            raise TemplateError(
                name,
                f"syntax error: {exc.message}",
                source=self._source_label(name, exc.name) or file,
                line=exc.lineno,
            ) from exc
        except Exception as exc:
            source, line = self._location(name, exc.__traceback__)
            raise TemplateError(name, _reason(exc), source=source or file, line=line) from exc

    def _compile_mjml(self, name: str, source: str) -> str:
        try:
            return mjml2html(source, include_loader=_refuse_mjml_include)
        except Exception as exc:
            raise TemplateError(name, f"invalid MJML: {exc}", source=HTML_FILE) from exc

    def _location(self, name: str, tb: TracebackType | None) -> tuple[str | None, int | None]:
        """The innermost template file and line in a traceback Jinja has rewritten."""
        found: tuple[str | None, int | None] = (None, None)
        root = os.path.abspath(self.root)
        while tb is not None:
            filename = tb.tb_frame.f_code.co_filename
            if os.path.abspath(filename).startswith(root + os.sep):
                relative = os.path.relpath(filename, root).replace(os.sep, "/")
                found = (self._source_label(name, relative), tb.tb_lineno)
            tb = tb.tb_next
        return found

    @staticmethod
    def _source_label(name: str, template_path: str | None) -> str | None:
        """``body.mjml`` for the template's own files, ``_layouts/base.mjml`` for shared."""
        if template_path is None:
            return None
        prefix = f"{name}/"
        return template_path[len(prefix) :] if template_path.startswith(prefix) else template_path


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TemplateNotFound):
        return f"included template {exc.name!r} not found"
    if isinstance(exc, SecurityError):
        return f"not allowed in templates: {exc}"
    if isinstance(exc, UndefinedError):
        return f"undefined value: {exc}"
    if isinstance(exc, RecursionError):
        return "too deeply nested (recursive include or macro?)"
    return f"{type(exc).__name__}: {exc}"


def _one_line(subject: str) -> str:
    """Collapse whitespace and drop control characters (header-injection guard), and cap
    the length so a merge tag cannot produce a novel."""
    cleaned = "".join(ch for ch in subject if unicodedata.category(ch) != "Cc" or ch.isspace())
    line = " ".join(cleaned.split())
    if len(line) > MAX_SUBJECT_LENGTH:
        line = line[: MAX_SUBJECT_LENGTH - 1].rstrip() + "\u2026"
    return line


def read_template_files(root: Path) -> dict[str, str]:
    """``relative/path`` -> text for every file under ``root`` (hidden ones skipped)."""
    if not root.is_dir():
        return {}
    files = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and not any(part.startswith(".") for part in relative.split("/")):
            files[relative] = path.read_text(encoding="utf-8")
    return files
