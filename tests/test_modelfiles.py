"""lenscribe.modelfiles: load_manifest on damaged model directories (a missing, truncated or changed file, no
manifest), each with an error that says what to do.

Heavy objects (the trained tiny model and the int8 build) come from conftest's session fixtures; tests that rebuild or
damage a model work on a copy so the shared build stays intact.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lenscribe.modelbuild.export import DECODER_WITH_PAST, ENCODER
from lenscribe.modelfiles import ModelError, load_manifest
from modelbuild_support import SHIPPED

pytestmark = pytest.mark.slow


# -- load_manifest on damaged model directories --------------------------------------------------------------------


@pytest.fixture
def shipped_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "model"
    out.mkdir()
    for name in SHIPPED:
        shutil.copy2(tiny_model_dir / name, out / name)
    load_manifest(out)  # intact copy loads
    return out


def test_load_manifest_missing_file(shipped_copy: Path) -> None:
    (shipped_copy / DECODER_WITH_PAST).unlink()
    with pytest.raises(ModelError, match=r"model file missing: .*decoder_with_past_model.onnx \(decoder\)"):
        load_manifest(shipped_copy)


def test_load_manifest_truncated_file(shipped_copy: Path) -> None:
    path = shipped_copy / ENCODER
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match=f"truncated or changed: .*encoder_model.onnx is {len(data) // 2} bytes"):
        load_manifest(shipped_copy)


def test_load_manifest_flipped_byte(shipped_copy: Path) -> None:
    path = shipped_copy / DECODER_WITH_PAST
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"model file corrupt: sha256 of .*decoder_with_past_model\.onnx"):
        load_manifest(shipped_copy)
    load_manifest(shipped_copy, check_hashes=False)  # the size check alone cannot see it


def test_load_manifest_without_manifest_says_how_to_build(shipped_copy: Path) -> None:
    (shipped_copy / "manifest.json").unlink()
    with pytest.raises(ModelError, match="lenscribe model build"):
        load_manifest(shipped_copy)
