"""Print the import graph of hub/ and workers/ by package, and check that it runs one way.

    python scripts/import_graph.py            # counts, pairs importing each other, upward arrows
    python scripts/import_graph.py --verbose  # also every package arrow and function-level import

A "package" is a feature folder (hub/intel, hub/alerts, ...), a kernel module (hub/db.py, ...),
`hub` itself (the factory in hub/__init__.py) or `workers`. A feature's models.py is its own
node ("intel.models"): the sharing policy reads feature models by design, and the models sit
below it. Layers, each importing only from the ones below it:

    kernel  <  models  <  policy  <  features  <  shells  <  workers

Exit status 1 when an arrow runs upward, two packages import each other, or a function-level
import carries no reason (a comment on its line), so the test suite can hold the shape.
"""
from __future__ import annotations

import ast
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KERNEL = {"extensions", "db", "tlp", "principal", "audit", "outbox", "errors", "form_errors", "secrets_at_rest", "rest",
          "bounds"}
FEATURES = {"accounts", "intel", "incidents", "alerts", "taxii", "feeds"}
SHELLS = {"api", "web", "hub", "cli", "demo", "celery"}
LAYERS = {"kernel": 0, "models": 1, "policy": 2, "feature": 3, "shell": 4, "workers": 5}
FUNCTION_IMPORTS_ALLOWED = 10


def node_of(module: str) -> str | None:
    """The graph node of a dotted module name inside the project, or None if outside."""
    parts = module.split(".")
    if parts[0] == "workers":
        return "workers"
    if parts[0] != "hub":
        return None
    if len(parts) == 1:
        return "hub"
    if parts[1] in FEATURES and len(parts) > 2 and parts[2] == "models":
        return f"{parts[1]}.models"
    return parts[1]


def layer_of(node: str) -> str:
    if node == "workers":
        return "workers"
    if node.endswith(".models"):
        return "models"
    if node == "policy":
        return "policy"
    if node in KERNEL:
        return "kernel"
    if node in FEATURES:
        return "feature"
    if node in SHELLS:
        return "shell"
    raise SystemExit(f"scripts/import_graph.py: {node!r} belongs to no layer; add it to a layer")


@dataclass
class Graph:
    modules: int = 0
    arrows: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    function_imports: list[tuple[str, int, str, str]] = field(default_factory=list)


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(node: ast.AST, current: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            base = current.split(".")
            if not is_package:
                base = base[:-1]
            base = base[: len(base) - (node.level - 1)]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        # `from hub.intel import models` imports hub.intel.models; `from hub import db` a name
        submodules = [f"{prefix}.{alias.name}" for alias in node.names if _is_module(f"{prefix}.{alias.name}")]
        return submodules + ([prefix] if len(submodules) < len(node.names) else [])
    return []


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def build() -> Graph:
    graph = Graph()
    for top in ("hub", "workers"):
        for path in sorted((ROOT / top).rglob("*.py")):
            graph.modules += 1
            current = module_name(path)
            source = path.read_text()
            lines = source.splitlines()
            tree = ast.parse(source)
            here = node_of(current)
            in_function = set()
            for func in ast.walk(tree):
                if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    for inner in ast.walk(func):
                        if isinstance(inner, (ast.Import, ast.ImportFrom)):
                            in_function.add(id(inner))
            for stmt in ast.walk(tree):
                if not isinstance(stmt, (ast.Import, ast.ImportFrom)):
                    continue
                if _under_type_checking(tree, stmt):
                    continue
                targets = {node_of(m) for m in imported_modules(stmt, current, path.name == "__init__.py")}
                targets.discard(None)
                # `from hub.intel import models` also names hub.intel; keep the most precise node
                if any(t.endswith(".models") for t in targets):
                    targets = {t for t in targets if t.endswith(".models") or t + ".models" not in targets}
                project_targets = {t for t in targets if t != here}
                if id(stmt) in in_function and targets:
                    graph.function_imports.append((str(path.relative_to(ROOT)), stmt.lineno,
                                                   lines[stmt.lineno - 1].strip(), _reason(lines, stmt)))
                for target in project_targets:
                    graph.arrows[(here, target)].append(f"{path.relative_to(ROOT)}:{stmt.lineno}")
    return graph


def _under_type_checking(tree: ast.AST, stmt: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            if any(child is stmt for child in ast.walk(node)):
                return True
    return False


def _reason(lines: list[str], stmt: ast.stmt) -> str:
    line = lines[stmt.lineno - 1]
    if "#" in line:
        return line.split("#", 1)[1].strip()
    previous = lines[stmt.lineno - 2].strip() if stmt.lineno > 1 else ""
    return previous[1:].strip() if previous.startswith("#") else ""


def problems(graph: Graph) -> tuple[list[str], list[str], list[str]]:
    upward = []
    for (source, target), where in sorted(graph.arrows.items()):
        if source == target.split(".")[0] and target.endswith(".models"):
            continue  # a feature importing its own models
        if target == source.split(".")[0] and source.endswith(".models"):
            upward.append(f"{source} -> {target} ({where[0]})")  # models must not import their feature
            continue
        if LAYERS[layer_of(source)] < LAYERS[layer_of(target)]:
            upward.append(f"{source} -> {target} ({where[0]})")
    pairs = sorted({tuple(sorted((s, t))) for (s, t) in graph.arrows if (t, s) in graph.arrows
                    and s.split(".")[0] != t.split(".")[0]})
    unexplained = [f"{path}:{line} {text}" for path, line, text, reason in graph.function_imports if not reason]
    return upward, [f"{a} <-> {b}" for a, b in pairs], unexplained


def main(argv: list[str]) -> int:
    graph = build()
    upward, pairs, unexplained = problems(graph)
    print(f"modules: {graph.modules}")
    print(f"package arrows: {len(graph.arrows)}")
    print(f"upward arrows: {len(upward)}")
    for line in upward:
        print(f"  {line}")
    print(f"pairs importing each other: {len(pairs)}")
    for line in pairs:
        print(f"  {line}")
    print(f"function-level imports: {len(graph.function_imports)} (at most {FUNCTION_IMPORTS_ALLOWED})")
    for path, line, text, reason in graph.function_imports:
        print(f"  {path}:{line} {text}  # {reason or 'NO REASON GIVEN'}")
    if "--verbose" in argv:
        print("arrows:")
        for (source, target), where in sorted(graph.arrows.items()):
            print(f"  {source} -> {target}  ({len(where)}: {where[0]})")
    failed = upward or pairs or unexplained or len(graph.function_imports) > FUNCTION_IMPORTS_ALLOWED
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
