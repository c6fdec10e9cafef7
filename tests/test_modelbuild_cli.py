"""lenscribe.modelbuild.cli: ``lenscribe model`` imports no build dependency until a build runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_cli_module_imports_no_build_dependency() -> None:
    code = (
        "import sys, lenscribe.cli as c; c.build_parser(); "
        "print(sorted(m for m in ('torch', 'transformers', 'optimum', 'onnx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
