"""Reading a workspace folder: only its definition files, as text, with every problem named."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connector.workspaces import WorkspaceError, read_folder
from connector.workspaces.files import MAX_FILE_BYTES, digest


def make(root: Path, files: dict[str, str | bytes]) -> Path:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def test_reads_definitions_and_templates_and_nothing_else(tmp_path: Path) -> None:
    root = make(tmp_path, {
        "flows/welcome.yaml": "a", "flows/notes.md": "no", "flows/properties.txt": "x",
        "flows/old/nested.yaml": "no", "flows/.#welcome.yaml": "no",
        "segments/vip.yml": "b", "segments/README": "no",
        "templates/welcome/subject.txt": "c", "templates/_partials/f.mjml": "d",
        "templates/.git/HEAD": "no", "README.md": "no", "connector/app.py": "no",
    })
    assert read_folder(root) == {
        "flows/welcome.yaml": "a", "flows/properties.txt": "x", "segments/vip.yml": "b",
        "templates/welcome/subject.txt": "c", "templates/_partials/f.mjml": "d",
    }


def test_every_unreadable_file_is_named_at_once(tmp_path: Path) -> None:
    root = make(tmp_path, {
        "flows/latin1.yaml": b"name: caf\xe9\n",
        "flows/big.yaml": "x" * (MAX_FILE_BYTES + 1),
        "templates/ok/subject.txt": "fine",
        "templates/bad/body.mjml": b"line one\n\xff\xfe",
    })
    os.symlink("/etc/passwd", root / "segments.yaml")  # outside the layout: not read
    (root / "segments").mkdir()
    os.symlink("/etc/passwd", root / "segments" / "evil.yaml")
    with pytest.raises(WorkspaceError) as refused:
        read_folder(root)
    assert sorted(refused.value.errors) == sorted([
        "flows/latin1.yaml:1: not UTF-8 text",
        f"flows/big.yaml: {MAX_FILE_BYTES + 1:,} bytes, over the {MAX_FILE_BYTES:,} limit",
        "segments/evil.yaml: a link; a workspace holds plain files only",
        "templates/bad/body.mjml:2: not UTF-8 text",
    ])


def test_a_missing_folder_is_an_error_and_missing_parts_are_empty(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="not a folder"):
        read_folder(tmp_path / "nope")
    assert read_folder(make(tmp_path, {"flows/a.yaml": "a"})) == {"flows/a.yaml": "a"}


def test_the_digest_ignores_order_and_tells_paths_from_contents() -> None:
    assert digest({"a": "1", "b": "2"}) == digest({"b": "2", "a": "1"})
    assert digest({"a": "12"}) != digest({"a1": "2"})
    assert digest({"a": "1"}) != digest({"a": "1", "b": ""})
