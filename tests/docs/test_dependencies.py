"""Every third-party package the code imports is declared in pyproject.toml (not merely installed by another)."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def imported_modules() -> dict[str, str]:
    """Top-level module → a file importing it, for every absolute import in the package (inside functions too)."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "assistant").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def declared() -> set[str]:
    """Canonical names of the dependencies and optional dependencies."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = list(project["dependencies"]) + [s for group in project.get("optional-dependencies", {}).values()
                                               for s in group]
    return {canonicalize_name(Requirement(spec).name) for spec in specs}


def test_every_imported_package_is_declared() -> None:
    dists = packages_distributions()
    wanted = declared()
    missing = []
    for module, where in imported_modules().items():
        if module in sys.stdlib_module_names or module in ("assistant", "__future__"):
            continue
        names = {canonicalize_name(d) for d in dists.get(module, [])}
        if names and not names & wanted:
            missing.append(f"{module} (from {sorted(names)}, imported in {where})")
    assert not missing, "imported but not declared in pyproject.toml: " + "; ".join(missing)
