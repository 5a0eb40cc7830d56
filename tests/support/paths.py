"""Where the repo's own definitions live (the default workspace)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
