"""Does the code keep its shape: kernel < models < policy < features < shells < workers?"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import import_graph  # noqa: E402  (scripts/ is not a package)


def test_no_package_imports_upward_or_in_a_cycle():
    upward, pairs, unexplained = import_graph.problems(import_graph.build())
    assert upward == [], "imports that run upward across the layers"
    assert pairs == [], "packages that import each other"
    assert unexplained == [], "function-level imports without a one-line reason"


def test_function_level_imports_stay_few():
    graph = import_graph.build()
    assert len(graph.function_imports) <= import_graph.FUNCTION_IMPORTS_ALLOWED


def test_the_checker_catches_an_upward_import(tmp_path, monkeypatch):
    """A kernel module that imports a feature is reported (the test above can fail)."""
    fake = tmp_path / "hub"
    (fake / "intel").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "intel" / "__init__.py").write_text("")
    (fake / "intel" / "reads.py").write_text("from hub import db\n")
    (fake / "db.py").write_text("from hub.intel import reads\n")
    (tmp_path / "workers").mkdir()
    monkeypatch.setattr(import_graph, "ROOT", tmp_path)
    upward, pairs, _ = import_graph.problems(import_graph.build())
    assert any(line.startswith("db -> intel") for line in upward)
    assert pairs == ["db <-> intel"]


def test_the_script_prints_its_counts_and_passes():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "import_graph.py")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
    assert "upward arrows: 0" in result.stdout
    assert "pairs importing each other: 0" in result.stdout
