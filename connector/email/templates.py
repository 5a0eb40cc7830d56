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
from collections.abc import Iterable, Mapping
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
    select_autoescape,
)
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
    """What `{{ ... }}` prints. A CRM property that is null prints as nothing, not "None";
    so does a collection (a dict, list, set, a view or a generator): its Python repr
    (`Welcome, {'a': 1}`) is never what the author meant, and failing the email would punish
    the recipient for the sender's data. Loop over it or pick a key instead."""
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
    caches each parsed template, and MJML is compiled per recipient (it follows Jinja)."""

    def __init__(self, files: Mapping[str, str]) -> None:
        self.files = dict(files)
        self.root = Path(_ROOT)
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
        if f"{name}/{TEXT_FILE}" in self.files:
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
