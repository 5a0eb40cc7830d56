"""The `connector` command and its tools (demo, flow simulation and timelines, validation)."""

from connector.cli.main import main

__all__ = ["main"]
