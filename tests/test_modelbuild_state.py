"""lenscribe.modelbuild.state: a checkpoint whose output changed or went is not done."""

from __future__ import annotations

from pathlib import Path

import pytest

from lenscribe.modelbuild.pipeline import WORK
from lenscribe.modelbuild.state import BuildState
from lenscribe.modelfiles import sha256_file

pytestmark = pytest.mark.slow


# -- checkpoint state ------------------------------------------------------------------------------------------------


def test_state_rejects_a_checkpoint_whose_output_changed(tmp_path: Path) -> None:
    work = tmp_path / WORK
    out = work / "out.bin"
    work.mkdir()
    out.write_bytes(b"one")
    state = BuildState.load(work)
    state.record("export", "k1", {"x": 1}, [out], 0.1)
    again = BuildState.load(work)
    assert again.is_done("export", "k1") and not again.is_done("export", "k2")
    assert again.steps["export"]["files"] == {"work/out.bin": sha256_file(out)}  # relative: a moved build stays valid
    out.write_bytes(b"three")
    assert not again.is_done("export", "k1")
    out.unlink()
    assert not again.is_done("export", "k1")
