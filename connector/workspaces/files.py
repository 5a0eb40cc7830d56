"""A workspace's files: which files of a folder make an account's definitions, read as text
and checked for layout, size and encoding before anything parses them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path

# What a workspace holds, relative to its folder. Everything else in the folder (a README,
# a .git, the connector's own code when the repo is the default workspace) is not read.
FLOWS, SEGMENTS, TEMPLATES, CAMPAIGNS = "flows", "segments", "templates", "campaigns"
DEFINITION_SUFFIXES = (".yaml", ".yml")
# Known CRM properties, one per line (# comments), beside the flows: lets the lint flag a
# typo such as `lifecylestage`.
CATALOGUE = "properties.txt"

MAX_FILES = 2000
MAX_FILE_BYTES = 1024 * 1024
MAX_TOTAL_BYTES = 20 * 1024 * 1024


class WorkspaceError(ValueError):
    """A workspace that cannot be deployed; `errors` holds every problem, each
    "path:line: message" with the path relative to the workspace."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"{len(errors)} error(s) in the workspace")
        self.errors = errors

    def __str__(self) -> str:
        return "\n".join(self.errors)


def read_workspace(
    flows: Path, segments: Path, templates: Path, campaigns: Path | None = None
) -> dict[str, str]:
    """The workspace made of these folders (a missing one is empty; no campaigns when
    `campaigns` is None): relative path (`flows/welcome.yaml`) -> text. Raises
    WorkspaceError naming every unreadable file."""
    files: dict[str, str] = {}
    errors: list[str] = []
    total = 0
    for prefix, folder, pick in (
        (FLOWS, flows, _flow_file),
        (SEGMENTS, segments, _definition_file),
        (TEMPLATES, templates, _template_file),
        *([(CAMPAIGNS, campaigns, _definition_file)] if campaigns is not None else []),
    ):
        for path, relative in _walk(Path(folder), pick):
            label = f"{prefix}/{relative}"
            if path.is_symlink():
                errors.append(f"{label}: a link; a workspace holds plain files only")
                continue
            size = path.stat().st_size
            total += size
            if size > MAX_FILE_BYTES:
                errors.append(f"{label}: {size:,} bytes, over the {MAX_FILE_BYTES:,} limit")
                continue
            raw = path.read_bytes()
            try:
                files[label] = raw.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                line = raw.count(b"\n", 0, exc.start) + 1
                errors.append(f"{label}:{line}: not UTF-8 text")
    if len(files) > MAX_FILES:
        errors.append(f"{len(files)} files, over the {MAX_FILES} limit")
    if total > MAX_TOTAL_BYTES:
        errors.append(f"{total:,} bytes in all, over the {MAX_TOTAL_BYTES:,} limit")
    if errors:
        raise WorkspaceError(errors)
    return files


def read_folder(root: Path) -> dict[str, str]:
    """A workspace folder laid out like the repo: `flows/`, `segments/`, `templates/`,
    `campaigns/`."""
    root = Path(root)
    if not root.is_dir():
        raise WorkspaceError([f"{root}: not a folder"])
    return read_workspace(root / FLOWS, root / SEGMENTS, root / TEMPLATES, root / CAMPAIGNS)


def digest(files: Mapping[str, str]) -> str:
    """Equal for equal workspaces, whatever the order the files were read in."""
    hasher = hashlib.sha256()
    for path in sorted(files):
        for part in (path, files[path]):
            data = part.encode()
            hasher.update(len(data).to_bytes(8, "big") + data)
    return hasher.hexdigest()


def part(files: Mapping[str, str], prefix: str) -> dict[str, str]:
    """The files under `prefix/`, keyed by their path inside it."""
    start = f"{prefix}/"
    return {path[len(start) :]: text for path, text in files.items() if path.startswith(start)}


def _walk(folder: Path, pick: Callable[[str], bool]) -> list[tuple[Path, str]]:
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if any(piece.startswith(".") for piece in relative.split("/")):
            continue  # editor leftovers and VCS folders
        if (path.is_file() or path.is_symlink()) and pick(relative):
            found.append((path, relative))
    return found


def _definition_file(relative: str) -> bool:
    return "/" not in relative and relative.endswith(DEFINITION_SUFFIXES)


def _flow_file(relative: str) -> bool:
    return _definition_file(relative) or relative == CATALOGUE


def _template_file(relative: str) -> bool:
    return True
