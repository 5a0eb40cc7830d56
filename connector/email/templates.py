"""Email templates: user content rendered in Jinja's sandbox, then compiled from MJML.

A template is a folder ``<root>/<name>/`` holding ``subject.txt``, ``body.mjml`` and
optionally ``body.txt``; ``_layouts/`` and ``_partials/`` hold shared pieces. Every
failure surfaces as TemplateError so one bad template fails one message, never the batch.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2 import FileSystemLoader, TemplateNotFound, TemplateSyntaxError, select_autoescape
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from mjml import mjml2html

from connector.email.errors import TemplateError
from connector.email.text import html_to_text

__all__ = ["RenderedEmail", "TemplateStore"]

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


def _finalize(value: Any) -> Any:
    # A CRM property that is null should print as nothing, not "None".
    return "" if value is None else value


def _refuse_mjml_include(path: str) -> str:
    # Sharing goes through Jinja's {% include %}; <mj-include> could read arbitrary files.
    raise ValueError(f"<mj-include> is not supported ({path})")


class TemplateStore:
    """Templates under ``root``. Long-lived: parsed templates are cached by Jinja and
    reloaded when a file's mtime changes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._environment = _EmailEnvironment(
            loader=FileSystemLoader(self.root),
            autoescape=select_autoescape(
                enabled_extensions=("mjml", "html", "htm", "xml"),
                disabled_extensions=("txt",),
                default_for_string=False,
                default=False,
            ),
            finalize=_finalize,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=True,
            cache_size=1000,
        )

    def names(self) -> list[str]:
        """Names of the complete templates, without the shared ``_`` folders."""
        if not self.root.is_dir():
            return []
        return sorted(entry.name for entry in self.root.iterdir() if self.exists(entry.name))

    def exists(self, name: str) -> bool:
        if not _NAME.fullmatch(name):
            return False
        folder = self.root / name
        return (folder / SUBJECT_FILE).is_file() and (folder / HTML_FILE).is_file()

    def render(self, name: str, context: Mapping[str, Any]) -> RenderedEmail:
        """Subject, HTML and text for one recipient; raises TemplateError on any failure."""
        if not self.exists(name):
            reason = (
                f"no such template (expected {SUBJECT_FILE} and {HTML_FILE} in {name}/)"
                if _NAME.fullmatch(name)
                else "not a valid template name"
            )
            raise TemplateError(name, reason)
        values = dict(context)
        subject = _one_line(self._render(name, SUBJECT_FILE, values))
        if not subject:
            raise TemplateError(name, "subject is empty", source=SUBJECT_FILE)
        html = self._compile_mjml(name, self._render(name, HTML_FILE, values))
        if os.path.isfile(self.root / name / TEXT_FILE):
            text = self._render(name, TEXT_FILE, values).strip() + "\n"
        else:
            text = html_to_text(html)
        return RenderedEmail(subject=subject, html=html, text=text)

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
