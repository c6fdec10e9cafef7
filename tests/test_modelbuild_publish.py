"""lenscribe.modelbuild.publish alone: the shipped files and a loadable manifest."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lenscribe.modelbuild.export import DECODER_WITH_PAST, ENCODER
from lenscribe.modelbuild.pipeline import WORK
from lenscribe.modelfiles import load_manifest, sha256_file
from modelbuild_support import SHIPPED, onnx_arch

pytestmark = pytest.mark.slow


# -- publish -----------------------------------------------------------------------------------------------------


def test_publish_alone_writes_files_and_a_loadable_manifest(tiny_model_dir: Path, tmp_path: Path) -> None:
    from lenscribe.modelbuild.publish import publish

    work = tiny_model_dir / WORK
    sources = {
        "encoder": work / "int8" / ENCODER,
        "decoder": work / "int8" / DECODER_WITH_PAST,
        "tokenizer": work / "source" / "tokenizer.json",
        "config": work / "source" / "config.json",
    }
    arch = dataclasses.asdict(onnx_arch(tiny_model_dir))
    out = tmp_path / "published"
    publish(out, sources, {"name": "alone", "architecture": arch, "opset": 17})
    assert {p.name for p in out.iterdir()} == SHIPPED  # no temporary files left behind
    manifest = load_manifest(out)
    assert manifest.model_id.startswith("alone@") and manifest.raw["opset"] == 17
    assert list(manifest.raw)[:5] == ["format", "name", "architecture", "files", "opset"]
    for role, src in sources.items():
        assert manifest.raw["files"][role]["sha256"] == sha256_file(src)
    # Same files, same id: the id is the cache key of summaries and must not depend on the build run.
    assert manifest.model_id.split("@")[1] == load_manifest(tiny_model_dir).model_id.split("@")[1]
