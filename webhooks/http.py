"""What every receiver shares: the runtime of this app, JSON errors, API-key auth, and the
one strict reader of JSON bodies (POST /v1/events, the admin API, the CRM webhooks)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge

from connector.runtime import Runtime

# Deep enough for any event or admin request (an order's items[].options.colour is 5
# levels), shallow enough that nothing downstream (pydantic, json.dumps, Jinja) recurses
# near Python's limit: 500 nested objects broke model_dump, 100,000 arrays json.loads.
MAX_JSON_DEPTH = 32
# NUL and lone surrogates: json.loads accepts "\u0000" and "\ud800", but neither is text
# PostgreSQL or an email can hold (a surrogate fails only later, when encoded to UTF-8).
_NOT_TEXT = re.compile(r"[\x00\ud800-\udfff]")


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["runtime"]
    return rt


def error(status: int, message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify({"error": message, **extra}), status


def authenticated_account_id() -> int | None:
    """The account whose API key is in `Authorization: Bearer` or `X-API-Key`."""
    header = request.headers.get("Authorization", "")
    key = header[7:].strip() if header.lower().startswith("bearer ") else ""
    key = key or request.headers.get("X-API-Key", "").strip()
    if not key or len(key) > 200:
        return None
    return runtime().api_keys.account_id(key)


def install_json_errors(app: Flask) -> None:
    """API paths answer errors as JSON with the right status, never an HTML page."""

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if not request.path.startswith(("/v1/", "/webhooks/")):
            return exc
        messages = {413: f"body larger than {current_app.config['MAX_CONTENT_LENGTH']} bytes"}
        return error(exc.code or 500, messages.get(exc.code or 0, exc.description or exc.name))


def read_json_body(*, cache: bool = False) -> Any:
    """The request body as strict JSON: the parsed value, or a BadRequest (400) naming what
    is wrong (not JSON, NaN or Infinity, a duplicate key, too deep, NUL or a lone
    surrogate in a string) or RequestEntityTooLarge (413). The JSON error handler turns
    both into `{"error": ...}`. `cache` keeps the bytes for a later reader (spectree)."""
    return parse_json(read_raw_body(cache=cache))


def read_raw_body(*, cache: bool = False) -> bytes:
    """The request body's bytes, for a receiver that verifies them before parsing:
    RequestEntityTooLarge (413) past MAX_CONTENT_LENGTH, chunked bodies included."""
    data = request.get_data(cache=cache)
    _refuse_truncated(len(data))
    return data


def parse_json(data: bytes) -> Any:
    """`data` as strict JSON (the rules of `read_json_body`), or a BadRequest naming what
    is wrong."""
    try:
        value = json.loads(
            data,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            object_pairs_hook=_unique_keys,
        )
    except RecursionError:
        raise BadRequest(f"body is nested too deeply (at most {MAX_JSON_DEPTH} levels)") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from None
    _check_tree(value)
    return value


def _refuse_truncated(length: int) -> None:
    """A chunked body has no Content-Length for Werkzeug to refuse up front: it reads up to
    MAX_CONTENT_LENGTH and stops there, silently. A body that filled the limit and has
    more behind it is too large (413), not a truncated 400."""
    limit = request.max_content_length
    if limit is None or length < limit or request.content_length is not None:
        return
    if request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (send a number or null)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses to inf: Infinity in disguise
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys: {"event": "a", "event": "b"} is "b",
    # where another parser may take "a". Ambiguous, so refused.
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r}")
            seen.add(key)
    return value


def _check_tree(value: Any) -> None:
    """Depth and text of every node, iteratively (a recursive walk is what fails)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
            strings: Any = node.keys()
        elif isinstance(node, list):
            children, strings = node, ()
        else:
            if isinstance(node, str) and _NOT_TEXT.search(node):
                raise BadRequest(_not_text_message(node))
            continue
        if depth > MAX_JSON_DEPTH:
            raise BadRequest(f"body is nested too deeply (at most {MAX_JSON_DEPTH} levels)")
        for key in strings:
            if _NOT_TEXT.search(key):
                raise BadRequest(_not_text_message(key))
        stack.extend((child, depth + 1) for child in children)


def _not_text_message(text: str) -> str:
    found = _NOT_TEXT.search(text)
    what = "NUL" if found and found.group() == "\x00" else "a lone surrogate"
    return f"body is not valid JSON text: a string contains {what} ({text[:40]!r})"
