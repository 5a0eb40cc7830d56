"""Deeply immutable, hashable JSON values for definitions (webhook bodies, `where` filters).

A frozen value equals the plain value it was made from (FrozenMap({"a": 1}) == {"a": 1}),
so definitions compare naturally; thaw() gives back plain dicts and lists for JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any


class FrozenMap(Mapping[str, Any]):
    """A read-only, hashable mapping; values are frozen too."""

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data = {str(k): freeze(v) for k, v in (data or {}).items()}
        self._hash: int | None = None

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(canonical_json(thaw(self)))
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and self._data == dict(other.items())

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


def freeze(value: Any) -> Any:
    """Mappings become FrozenMaps and lists tuples, all the way down."""
    if isinstance(value, FrozenMap):
        return value
    if isinstance(value, Mapping):
        return FrozenMap(value)
    if isinstance(value, list | tuple):
        return tuple(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """The plain JSON form of a frozen value: dicts and lists."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(item) for item in value]
    return value


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no spaces (hashes and versions use it)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
