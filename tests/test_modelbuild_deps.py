"""lenscribe.modelbuild.deps: a missing build extra is a clear error."""

from __future__ import annotations

import sys

import pytest

from lenscribe.modelbuild.errors import BuildError

pytestmark = pytest.mark.slow


def test_missing_build_extra_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from lenscribe.modelbuild.deps import require_build_deps

    monkeypatch.setitem(sys.modules, "optimum.exporters.onnx", None)  # import now raises ImportError
    with pytest.raises(BuildError, match=r"\[build\] extra \(missing: optimum\)"):
        require_build_deps()
