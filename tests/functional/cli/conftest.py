"""The CLI's environment in tests: development settings on a database of its own, never
migrated until a command that writes migrates it, and the repo's definitions."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.paths import ROOT


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"APP_ENV": "development", "VAR_DIR": str(tmp_path / "var"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
            "FLOWS_DIR": str(ROOT / "flows"), "TEMPLATES_DIR": str(ROOT / "templates"),
            "SEGMENTS_DIR": str(ROOT / "segments")}
