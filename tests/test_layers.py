"""Imports run one way: flows -> reports, alerts -> validation, publish -> indicators -> warehouse.

riskwatch.settings imports nothing of the project and may be imported by every layer; the CLI
(the rest of riskwatch/) may use everything. Packages on one level never import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

LEVEL = {"warehouse": 1, "indicators": 2, "validation": 3, "publish": 3, "alerts": 4, "reports": 4, "flows": 5,
         "riskwatch": 6}
LEAF = "riskwatch.settings"


def imported_modules(source: str) -> set[str]:
    """Every module an `import` / `from ... import` names, anywhere in the file (lazy imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def violations(module: str, source: str) -> list[str]:
    """The project imports of `module` (dotted name) that break the rule above."""
    package = module.split(".")[0]
    bad = []
    for name in sorted(imported_modules(source)):
        target = name.split(".")[0]
        if target not in LEVEL or target == package:
            continue
        if name == LEAF or name.startswith(LEAF + "."):
            if module == LEAF:
                bad.append(f"{module} imports {name}")
            continue
        if module == LEAF or LEVEL[target] >= LEVEL[package]:
            bad.append(f"{module} ({package}, level {LEVEL[package]}) imports {name} (level {LEVEL[target]})")
    if module == LEAF:
        bad += [f"{module} imports {n}" for n in imported_modules(source) if n.split(".")[0] in LEVEL]
    return sorted(set(bad))


def project_modules() -> list[tuple[str, Path]]:
    found = []
    for package in LEVEL:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found.append((".".join(p for p in parts if p != "__init__"), path))
    return found


def test_every_package_is_known_and_has_modules():
    assert all(any(m.startswith(p) for m, _ in project_modules()) for p in LEVEL)


@pytest.mark.parametrize(("module", "path"), project_modules(), ids=lambda v: str(v))
def test_imports_run_one_way(module, path):
    assert violations(module, path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(("module", "source"), [
    ("warehouse.load", "from validation.ingest import check_batch"),
    ("indicators.compute", "def f():\n    from alerts.lifecycle import evaluate_alerts"),
    ("alerts.render", "import reports.charts"),
    ("validation.suites", "from publish.render import environment"),
    ("riskwatch.settings", "from warehouse.db import connect"),
    ("reports.weekly", "from flows import tasks"),
])
def test_the_checker_catches_an_upward_or_sideways_import(module, source):
    assert violations(module, source)


@pytest.mark.parametrize(("module", "source"), [
    ("flows.tasks", "from validation.ingest import ingest_files\nfrom riskwatch.settings import Settings"),
    ("warehouse.load", "from riskwatch.settings import Settings"),
    ("riskwatch.cli", "from flows.pipeline import pipeline"),
    ("reports.weekly", "from publish.render import environment\nfrom reports import data"),
])
def test_the_checker_allows_downward_imports(module, source):
    assert violations(module, source) == []
