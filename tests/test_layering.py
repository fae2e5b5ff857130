"""The layers of DESIGN.md, read from the code: every ``import`` of every module (function-level
imports included) points down, and no two packages import each other."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "torchclas"

# Lower numbers sit lower. A module may import its own package and any package of a lower rank;
# packages of one rank are independent of each other.
RANKS = {
    "utils": 0,
    "config": 1,
    "models": 2, "data": 2, "losses": 2, "metrics": 2, "optim": 2,
    "configure": 3,
    "inference": 4,
    "export": 5,
    "engine": 6,
    "zoo": 7, "search": 7, "serve": 7,
    "cli": 8,
    "__main__": 9, "testing": 9,  # test helpers: fault injection, corrupt images, tiny data
}


def _module_name(path: Path) -> tuple[str, bool]:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    is_package = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_package else parts), is_package


def _imported_modules(path: Path) -> set[str]:
    """Every ``torchclas`` module ``path`` imports, at any depth of its code."""
    module, is_package = _module_name(path)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [f"{target}.{a.name}" for a in node.names] if node.module is None else [target]
            found.update(names)
    return {name for name in found if name == "torchclas" or name.startswith("torchclas.")}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "torchclas"


def _edges() -> dict[tuple[str, str], list[str]]:
    """``(importing package, imported package) -> ["module -> module", ...]`` across packages."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        module, _ = _module_name(path)
        for target in sorted(_imported_modules(path)):
            a, b = _package(module), _package(target)
            if a != b:
                edges[(a, b)].append(f"{module} -> {target}")
    return edges


def test_every_package_has_a_rank():
    packages = {_package(_module_name(p)[0]) for p in PACKAGE.rglob("*.py")} - {"torchclas"}
    assert packages <= set(RANKS), f"packages without a layer in RANKS: {sorted(packages - set(RANKS))}"


def test_imports_point_down_the_layers():
    wrong = [line for (a, b), lines in _edges().items()
             if a != "torchclas" and b != "torchclas" and RANKS[b] >= RANKS[a] for line in lines]
    assert not wrong, "imports against the layers of DESIGN.md:\n  " + "\n  ".join(wrong)


def test_no_package_imports_the_top_level_package():
    """``torchclas/__init__`` imports public names lazily from every layer: nothing below may use it."""
    wrong = [line for (a, b), lines in _edges().items() if b == "torchclas" and a != "torchclas"
             for line in lines]
    assert not wrong, "modules importing the top-level package:\n  " + "\n  ".join(wrong)


def test_no_cycle_between_packages():
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in _edges():
        if "torchclas" not in (a, b):
            graph[a].add(b)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph.get(start, ()))

    cycles = sorted(a for a in graph if reaches(a, a, {a}))
    assert not cycles, f"packages on an import cycle: {cycles}"


def test_the_scanner_sees_function_level_and_relative_imports(tmp_path):
    """The test would pass vacuously if the scanner missed imports: pin it on known ones."""
    imported = _imported_modules(PACKAGE / "configure.py")
    assert {"torchclas.config", "torchclas.models", "torchclas.losses"} <= imported
    assert "torchclas.utils.version" in _imported_modules(PACKAGE / "__init__.py")
