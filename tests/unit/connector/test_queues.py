"""Every job the Work port enqueues by path is a function of connector.jobs."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from connector.queues import JOBS, QUEUE_NAMES


def test_every_job_path_names_a_job_function_on_a_known_queue() -> None:
    for job in JOBS:
        module, _, name = job.function.rpartition(".")
        assert module == "connector.jobs", job
        assert callable(getattr(importlib.import_module(module), name)), job
        assert job.queue in QUEUE_NAMES, job


def test_nothing_in_the_core_imports_the_jobs() -> None:
    """Jobs depend on services, never the reverse (RQ alone imports connector.jobs)."""
    root = Path(__file__).resolve().parents[3] / "connector"
    importers = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [f"{node.module}.{alias.name}" for alias in node.names]
                if isinstance(node, ast.ImportFrom) and node.module
                else []
            )
            if any(n == "connector.jobs" or n.startswith("connector.jobs.") for n in names):
                importers.append(str(path.relative_to(root)))
    assert importers == []
