"""No Python file of the repository edits ``sys.path``: the training scripts run as
``python -m lenscribe_training.GROUP.MODULE`` with ``PYTHONPATH=models:server``, the tests get ``server``, ``models``
and ``benchmarks`` from pytest's ``pythonpath`` (pyproject.toml) and the editor tests' model builder gets ``tests``
from the scripts that call it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SKIP = {".venv", "node_modules", ".git", ".cache"}
EDIT = re.compile(r"\bsys\.path\s*(\.\s*(insert|append|extend)\b|(\[[^\]]*\])?\s*[+]?=)")


def _python_files() -> list[Path]:
    """The tracked .py files (every .py file outside the skipped folders when this is no git checkout)."""
    if shutil.which("git") and (REPO / ".git").exists():
        out = subprocess.run(["git", "ls-files", "-z", "--", "*.py"], cwd=REPO, capture_output=True, check=True)
        files = [REPO / p for p in out.stdout.decode().split("\0") if p]
    else:
        files = list(REPO.rglob("*.py"))
    return [f for f in files if f.is_file() and not SKIP & set(f.relative_to(REPO).parts)]


def test_the_pattern_catches_path_edits():
    path = "sys" + ".path"  # spelled apart: this file is one of those it reads
    for line in (f"{path}.insert(0, str(HERE))", f"{path}.append('x')", f"{path}[:0] = [p]", f"{path} += [p]",
                 f"{path} . extend(paths)"):
        assert EDIT.search(line), line
    for line in (f"# (the workspace) and PYTHON* variables off {path}.", f"if str(p) in {path}:"):
        assert not EDIT.search(line), line


def test_no_python_file_edits_sys_path():
    files = _python_files()
    if len(files) < 50:
        pytest.skip(f"only {len(files)} Python files found: not a full checkout")
    edits = [f"{f.relative_to(REPO)}:{n}: {line.strip()}"
             for f in files for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1)
             if EDIT.search(line)]
    assert not edits, "sys.path edits (use PYTHONPATH or pytest's pythonpath instead):\n" + "\n".join(edits)
